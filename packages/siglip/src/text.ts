// SiglipTextModel following transformers' modeling_siglip.py: token + learned position
// embeddings, the vision tower's pre-norm encoder layers with full (not causal) attention,
// final_layer_norm, and the pooled output = the LAST position's hidden state through `head`
// (SigLIP pads every text to max_position_embeddings and was trained that way, without an
// attention mask, so the last position sees the whole text). Parameter names are the Hugging
// Face keys under "text_model.".
import { F, Module, ModuleList, nn, type Tensor } from '@reconvla/core';
import { SiglipEncoderLayer, type InitOptions } from './model.ts';

export interface SiglipTextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** The text length: every input is padded or cut to it (HF default 64). */
  maxPositionEmbeddings: number;
  layerNormEps: number;
  /** Width of the pooled output (`head`); transformers' default is hidden_size. */
  projectionSize: number;
  padTokenId: number;
}

const DEFAULTS = {
  vocab_size: 32000, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12,
  max_position_embeddings: 64, layer_norm_eps: 1e-6,
} as const;

const IGNORED = new Set([
  'architectures', 'model_type', 'torch_dtype', 'dtype', 'transformers_version', 'attention_dropout', 'hidden_act', '_name_or_path',
  'initializer_factor', 'bos_token_id', 'eos_token_id', 'pad_token_id', 'projection_size',
]);

type Json = Record<string, unknown>;

/** A SiglipTextConfig from config.json: a text config itself or a full SiglipConfig's "text_config". */
export function parseSiglipTextConfig(json: unknown): SiglipTextConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('SigLIP text config: expected a JSON object');
  let cfg = json as Json;
  if (cfg.text_config && typeof cfg.text_config === 'object') cfg = cfg.text_config as Json;
  const get = (key: keyof typeof DEFAULTS): number => {
    const v = cfg[key] ?? DEFAULTS[key];
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`SigLIP text config: "${key}" must be a positive number, got ${JSON.stringify(cfg[key])}`);
    return v;
  };
  const hiddenSize = get('hidden_size');
  const projection = cfg.projection_size ?? hiddenSize;
  const pad = cfg.pad_token_id ?? 1;
  const c: SiglipTextConfig = {
    vocabSize: get('vocab_size'), hiddenSize, intermediateSize: get('intermediate_size'), numHiddenLayers: get('num_hidden_layers'),
    numAttentionHeads: get('num_attention_heads'), maxPositionEmbeddings: get('max_position_embeddings'), layerNormEps: get('layer_norm_eps'),
    projectionSize: typeof projection === 'number' ? projection : NaN, padTokenId: typeof pad === 'number' ? pad : NaN,
  };
  const problems: string[] = [];
  const unknown = Object.keys(cfg).filter((k) => !(k in DEFAULTS) && !IGNORED.has(k));
  if (unknown.length) problems.push(`unknown fields ${unknown.map((k) => `"${k}"`).join(', ')}`);
  if (cfg.hidden_act !== undefined && cfg.hidden_act !== 'gelu_pytorch_tanh') problems.push(`hidden_act "${String(cfg.hidden_act)}" (only "gelu_pytorch_tanh")`);
  if (c.hiddenSize % c.numAttentionHeads !== 0) problems.push(`hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numAttentionHeads}`);
  if (!(c.projectionSize > 0) || !Number.isInteger(c.projectionSize)) problems.push(`projection_size ${JSON.stringify(cfg.projection_size)} (a positive integer)`);
  if (!Number.isInteger(c.padTokenId) || c.padTokenId < 0 || c.padTokenId >= c.vocabSize) problems.push(`pad_token_id ${JSON.stringify(cfg.pad_token_id)} outside the ${c.vocabSize} ids`);
  if (problems.length) throw new Error(`SigLIP text config: ${problems.join('; ')}`);
  return c;
}

class SiglipTextEmbeddings extends Module {
  readonly token_embedding: nn.Embedding;
  readonly position_embedding: nn.Embedding;
  constructor(cfg: SiglipTextConfig, init: InitOptions) {
    super();
    this.token_embedding = this.registerModule('token_embedding', new nn.Embedding(cfg.vocabSize, cfg.hiddenSize, init));
    this.position_embedding = this.registerModule('position_embedding', new nn.Embedding(cfg.maxPositionEmbeddings, cfg.hiddenSize, init));
  }
  /** ids [B, L] (int32) -> [B, L, D]: position ids are 0..L-1. */
  forward(ids: Tensor): Tensor {
    const length = ids.shape[1]!;
    return F.add(this.token_embedding.forward(ids), F.slice(this.position_embedding.weight, 0, 0, length));
  }
}

export interface SiglipTextOutput {
  /** [B, L, D] after final_layer_norm. */
  lastHiddenState: Tensor;
  /** [B, projection_size]: the last position through `head`. */
  poolerOutput: Tensor;
}

class SiglipTextTransformer extends Module {
  readonly embeddings: SiglipTextEmbeddings;
  readonly encoder: Module;
  readonly layers: ModuleList<SiglipEncoderLayer>;
  readonly final_layer_norm: nn.LayerNorm;
  readonly head: nn.Linear;
  constructor(readonly cfg: SiglipTextConfig, init: InitOptions) {
    super();
    this.embeddings = this.registerModule('embeddings', new SiglipTextEmbeddings(cfg, init));
    this.encoder = this.registerModule('encoder', new Module());
    this.layers = this.encoder.registerModule('layers', new ModuleList(Array.from({ length: cfg.numHiddenLayers }, () => new SiglipEncoderLayer(cfg, init))));
    this.final_layer_norm = this.registerModule('final_layer_norm', new nn.LayerNorm(cfg.hiddenSize, { ...init, eps: cfg.layerNormEps }));
    this.head = this.registerModule('head', new nn.Linear(cfg.hiddenSize, cfg.projectionSize, init));
  }
  forward(ids: Tensor): SiglipTextOutput {
    let h = this.embeddings.forward(ids);
    for (const layer of this.layers) h = layer.forward(h);
    const lastHiddenState = this.final_layer_norm.forward(h);
    const [b, l, d] = lastHiddenState.shape as [number, number, number];
    const last = F.reshape(F.slice(lastHiddenState, 1, l - 1, l), [b, d]);
    return { lastHiddenState, poolerOutput: this.head.forward(last) };
  }
}

export class SiglipTextModel extends Module {
  readonly text_model: SiglipTextTransformer;
  constructor(readonly config: SiglipTextConfig, init: InitOptions = {}) {
    super();
    this.text_model = this.registerModule('text_model', new SiglipTextTransformer(config, init));
  }

  /** ids [B, L] int32, L <= max_position_embeddings (pad to it, as SigLIP's tokenizer does). */
  forward(ids: Tensor): SiglipTextOutput {
    const c = this.config;
    if (ids.rank !== 2 || ids.dtype !== 'int32') throw new Error(`SigLIP text: input ids must be [B, L] int32, got [${ids.shape.join(', ')}] ${ids.dtype}`);
    if (ids.shape[1]! > c.maxPositionEmbeddings || ids.shape[1]! < 1) throw new Error(`SigLIP text: ${ids.shape[1]} tokens, the model takes 1..${c.maxPositionEmbeddings} (max_position_embeddings)`);
    return this.text_model.forward(ids);
  }
}
