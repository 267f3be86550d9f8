// Qwen2 config: a Hugging Face config.json with transformers' Qwen2Config defaults. Fields we
// do not model are rejected by name rather than silently ignored, so a checkpoint that needs
// them (rope scaling, sliding windows, another activation) fails at load time, not in outputs.

export interface Qwen2Config {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
}

/** transformers' Qwen2Config defaults (Qwen2-7B sizes). */
const DEFAULTS = {
  vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
  num_key_value_heads: 32, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: false,
} as const;

/** Keys that carry no information the forward pass needs (or only values we check below). */
const IGNORED = new Set([
  'architectures', 'model_type', 'transformers_version', 'torch_dtype', 'dtype', 'use_cache', 'initializer_range', '_name_or_path',
  'attention_dropout', 'max_window_layers', 'sliding_window', 'use_sliding_window', 'rope_scaling', 'hidden_act', 'layer_types',
  'bos_token_id', 'eos_token_id', 'pad_token_id', 'head_dim', 'output_attentions', 'output_hidden_states', 'return_dict',
]);

type Json = Record<string, unknown>;

function int(cfg: Json, key: keyof typeof DEFAULTS | 'head_dim', fallback?: number): number {
  const v = cfg[key] ?? fallback ?? (DEFAULTS as Record<string, unknown>)[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new Error(`Qwen2 config: "${key}" must be a positive integer, got ${JSON.stringify(cfg[key])}`);
  return v;
}

function num(cfg: Json, key: keyof typeof DEFAULTS): number {
  const v = cfg[key] ?? DEFAULTS[key];
  if (typeof v !== 'number' || !(v > 0)) throw new Error(`Qwen2 config: "${key}" must be a positive number, got ${JSON.stringify(cfg[key])}`);
  return v;
}

function optionalId(cfg: Json, key: string): number | null {
  const v = cfg[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`Qwen2 config: "${key}" must be an integer or null, got ${JSON.stringify(v)}`);
  return v;
}

/** Parses a config.json object; every unknown or contradictory field is named in one error. */
export function parseQwen2Config(json: unknown): Qwen2Config {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('Qwen2 config: expected a JSON object');
  const cfg = json as Json;
  const unknown = Object.keys(cfg).filter((k) => !(k in DEFAULTS) && !IGNORED.has(k));
  const problems: string[] = [];
  if (unknown.length) problems.push(`unknown fields ${unknown.map((k) => `"${k}"`).join(', ')}`);
  const heads = int(cfg, 'num_attention_heads');
  const hidden = int(cfg, 'hidden_size');
  const c: Qwen2Config = {
    vocabSize: int(cfg, 'vocab_size'),
    hiddenSize: hidden,
    intermediateSize: int(cfg, 'intermediate_size'),
    numHiddenLayers: int(cfg, 'num_hidden_layers'),
    numAttentionHeads: heads,
    numKeyValueHeads: int(cfg, 'num_key_value_heads', heads),
    headDim: cfg.head_dim === undefined || cfg.head_dim === null ? Math.floor(hidden / heads) : int(cfg, 'head_dim'),
    maxPositionEmbeddings: int(cfg, 'max_position_embeddings'),
    rmsNormEps: num(cfg, 'rms_norm_eps'),
    ropeTheta: num(cfg, 'rope_theta'),
    tieWordEmbeddings: cfg.tie_word_embeddings === undefined ? DEFAULTS.tie_word_embeddings : cfg.tie_word_embeddings === true,
    bosTokenId: optionalId(cfg, 'bos_token_id'),
    eosTokenId: Array.isArray(cfg.eos_token_id) ? (cfg.eos_token_id as number[]) : optionalId(cfg, 'eos_token_id'),
    padTokenId: optionalId(cfg, 'pad_token_id'),
  };
  if (cfg.model_type !== undefined && cfg.model_type !== 'qwen2') problems.push(`model_type "${String(cfg.model_type)}" is not "qwen2"`);
  if (cfg.hidden_act !== undefined && cfg.hidden_act !== 'silu') problems.push(`hidden_act "${String(cfg.hidden_act)}" (only "silu")`);
  if (cfg.rope_scaling !== undefined && cfg.rope_scaling !== null) problems.push(`rope_scaling ${JSON.stringify(cfg.rope_scaling)} (only null)`);
  if (cfg.use_sliding_window === true) problems.push('use_sliding_window true (sliding-window attention is not implemented)');
  if (cfg.tie_word_embeddings !== undefined && typeof cfg.tie_word_embeddings !== 'boolean') problems.push(`tie_word_embeddings ${JSON.stringify(cfg.tie_word_embeddings)} is not a boolean`);
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0) problems.push(`num_attention_heads ${c.numAttentionHeads} is not a multiple of num_key_value_heads ${c.numKeyValueHeads}`);
  if (cfg.head_dim == null && hidden % heads !== 0) problems.push(`hidden_size ${hidden} is not divisible by num_attention_heads ${heads}`);
  if (c.headDim % 2 !== 0) problems.push(`head_dim ${c.headDim} must be even (rotary embedding)`);
  if (problems.length) throw new Error(`Qwen2 config: ${problems.join('; ')}`);
  return c;
}

/** The config as Hugging Face config.json fields (what savePretrained writes; parseQwen2Config reads it back). */
export function qwen2ConfigToJson(c: Qwen2Config, torchDtype = 'bfloat16'): Record<string, unknown> {
  return {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    max_position_embeddings: c.maxPositionEmbeddings,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieWordEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    torch_dtype: torchDtype,
  };
}
