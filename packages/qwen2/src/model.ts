// Qwen2ForCausalLM following transformers' modeling_qwen2.py (eager attention). Parameter
// names are the Hugging Face state-dict keys; with tied embeddings there is no lm_head.weight.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F, Module, ModuleList, nn, noGrad, openCheckpoint, tidy, type Backend, type Generator, type Tensor } from '@reconvla/core';
import { loadCheckpointInto, savePretrained, type SavePretrainedOptions } from './checkpoint.ts';
import { parseQwen2Config, qwen2ConfigToJson, type Qwen2Config } from './config.ts';
import { KVCache } from './kv_cache.ts';

/** The additive mask value for hidden keys: float32's most negative finite value, as HF uses. */
const MASKED = -3.4028234663852886e38;

export interface InitOptions { backend?: Backend; generator?: Generator }

export interface PretrainedOptions extends InitOptions {
  /** Store the matmul weights (and the tied embedding) in float16: Module.half() before the
   * weights load, so BF16 checkpoints convert once on upload. Inference only. */
  float16?: boolean;
}

class Qwen2Attention extends Module {
  readonly q_proj: nn.Linear;
  readonly k_proj: nn.Linear;
  readonly v_proj: nn.Linear;
  readonly o_proj: nn.Linear;
  constructor(readonly cfg: Qwen2Config, init: InitOptions) {
    super();
    const { hiddenSize: d, numAttentionHeads: h, numKeyValueHeads: kv, headDim: hd } = cfg;
    this.q_proj = this.registerModule('q_proj', new nn.Linear(d, h * hd, init));
    this.k_proj = this.registerModule('k_proj', new nn.Linear(d, kv * hd, init));
    this.v_proj = this.registerModule('v_proj', new nn.Linear(d, kv * hd, init));
    this.o_proj = this.registerModule('o_proj', new nn.Linear(h * hd, d, { ...init, bias: false }));
  }

  /** x [B, T, D]; cos/sin [B, T, hd]; mask additive [B, 1, 1, Tk] or null; cache for earlier tokens. */
  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | null, cache?: { layer: number; kv: KVCache }): Tensor {
    const [b, t] = x.shape as [number, number, number];
    const { numAttentionHeads: h, numKeyValueHeads: kvh, headDim: hd } = this.cfg;
    const heads = (y: Tensor, n: number): Tensor => F.transpose(F.reshape(y, [b, t, n, hd]), 1, 2);
    const q = F.applyRotary(heads(this.q_proj.forward(x), h), cos, sin);
    let k = F.applyRotary(heads(this.k_proj.forward(x), kvh), cos, sin);
    let v = heads(this.v_proj.forward(x), kvh);
    if (cache) ({ k, v } = cache.kv.append(cache.layer, k, v));
    // Causal alignment is to the end, so with a cache query i is token past + i.
    const a = F.scaledDotProductAttention(q, k, v, { causal: true, mask, scale: 1 / Math.sqrt(hd) });
    return this.o_proj.forward(F.reshape(F.transpose(a, 1, 2), [b, t, h * hd]));
  }
}

/** SwiGLU: down(silu(gate(x)) * up(x)). */
class Qwen2MLP extends Module {
  readonly gate_proj: nn.Linear;
  readonly up_proj: nn.Linear;
  readonly down_proj: nn.Linear;
  constructor(cfg: Qwen2Config, init: InitOptions) {
    super();
    const opts = { ...init, bias: false };
    this.gate_proj = this.registerModule('gate_proj', new nn.Linear(cfg.hiddenSize, cfg.intermediateSize, opts));
    this.up_proj = this.registerModule('up_proj', new nn.Linear(cfg.hiddenSize, cfg.intermediateSize, opts));
    this.down_proj = this.registerModule('down_proj', new nn.Linear(cfg.intermediateSize, cfg.hiddenSize, opts));
  }
  forward(x: Tensor): Tensor {
    // silu in gate_proj's matmul epilogue (one dispatch when no gradient is recorded).
    return this.down_proj.forward(F.mul(this.gate_proj.forward(x, 'silu'), this.up_proj.forward(x)));
  }
}

class Qwen2DecoderLayer extends Module {
  readonly self_attn: Qwen2Attention;
  readonly mlp: Qwen2MLP;
  readonly input_layernorm: nn.RMSNorm;
  readonly post_attention_layernorm: nn.RMSNorm;
  constructor(cfg: Qwen2Config, init: InitOptions) {
    super();
    this.self_attn = this.registerModule('self_attn', new Qwen2Attention(cfg, init));
    this.mlp = this.registerModule('mlp', new Qwen2MLP(cfg, init));
    this.input_layernorm = this.registerModule('input_layernorm', new nn.RMSNorm(cfg.hiddenSize, { ...init, eps: cfg.rmsNormEps }));
    this.post_attention_layernorm = this.registerModule('post_attention_layernorm', new nn.RMSNorm(cfg.hiddenSize, { ...init, eps: cfg.rmsNormEps }));
  }
  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | null, cache?: { layer: number; kv: KVCache }): Tensor {
    const h = F.add(x, this.self_attn.forward(this.input_layernorm.forward(x), cos, sin, mask, cache));
    return F.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

export interface Qwen2Inputs {
  /** Token ids [B, T] (int32); give this or inputsEmbeds. */
  inputIds?: Tensor;
  /** Embeddings [B, T, D] used instead of looking ids up (ReconVLA splices image features in). */
  inputsEmbeds?: Tensor;
  /** [B, past + T] int32, 1 = token, 0 = padding: key j is visible from query i iff j <= i and mask[b, j] = 1. */
  attentionMask?: Tensor;
  /** [B, T] int32; defaults to past + arange(T) for every row. */
  positionIds?: Tensor;
  /** Continue from (and extend) these cached keys/values. */
  cache?: KVCache;
}

/** The decoder stack: embeddings, layers, final RMSNorm (HF's Qwen2Model, keys under "model."). */
export class Qwen2Model extends Module {
  readonly embed_tokens: nn.Embedding;
  readonly layers: ModuleList<Qwen2DecoderLayer>;
  readonly norm: nn.RMSNorm;
  constructor(readonly config: Qwen2Config, init: InitOptions = {}) {
    super();
    this.embed_tokens = this.registerModule('embed_tokens', new nn.Embedding(config.vocabSize, config.hiddenSize, init));
    this.layers = this.registerModule('layers', new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new Qwen2DecoderLayer(config, init))));
    this.norm = this.registerModule('norm', new nn.RMSNorm(config.hiddenSize, { ...init, eps: config.rmsNormEps }));
  }

  /** The last hidden state [B, T, D] after the final norm. */
  forward(inputs: Qwen2Inputs): Tensor {
    const { inputIds, inputsEmbeds, attentionMask, cache } = inputs;
    if ((inputIds === undefined) === (inputsEmbeds === undefined)) throw new Error('Qwen2: give exactly one of inputIds and inputsEmbeds');
    let h = inputsEmbeds ?? this.embed_tokens.forward(inputIds!);
    const [b, t] = h.shape as [number, number, number];
    const past = cache?.length ?? 0;
    const positionIds = inputs.positionIds ?? F.repeat(F.reshape(F.arange(past, past + t, 1, { backend: h.backend, dtype: 'int32' }), [1, t]), [b, 1]);
    const { cos, sin } = F.rotaryCosSin(positionIds, this.config.headDim, this.config.ropeTheta);
    let mask: Tensor | null = null;
    if (attentionMask) {
      if (attentionMask.shape.join() !== `${b},${past + t}`) throw new Error(`Qwen2: attention mask [${attentionMask.shape.join(', ')}] must be [${b}, ${past + t}] (past + new tokens)`);
      mask = F.reshape(F.mul(F.sub(1, F.astype(attentionMask, 'float32')), MASKED), [b, 1, 1, past + t]);
    }
    this.layers.items.forEach((layer, i) => { h = layer.forward(h, cos, sin, mask, cache ? { layer: i, kv: cache } : undefined); });
    return this.norm.forward(h);
  }
}

export interface CausalLMOutput {
  /** [B, T, vocab], or [B, logitsToKeep, vocab]. */
  logits: Tensor;
  /** After the final norm, every position: what lm_head sees. */
  hiddenStates: Tensor;
  /** ForCausalLMLoss when labels were given. */
  loss?: Tensor;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (the default) is greedy decoding. */
  temperature?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches topP. */
  topP?: number;
  generator?: Generator;
  /** Stop a row at this token (defaults to the config's eos_token_id). */
  eosTokenId?: number | number[] | null;
}

export interface GenerateResult {
  /** Prompt plus generated tokens, per row (rows that stopped early are shorter). */
  ids: number[][];
  /** The last-position logits [B, vocab] each new token was picked from. */
  stepLogits: Float32Array[];
}

export class Qwen2ForCausalLM extends Module {
  readonly model: Qwen2Model;
  /** null when tied: the embedding matrix serves as the output projection. */
  readonly lm_head: nn.Linear | null;

  constructor(readonly config: Qwen2Config, init: InitOptions = {}) {
    super();
    this.model = this.registerModule('model', new Qwen2Model(config, init));
    this.lm_head = config.tieWordEmbeddings ? null : this.registerModule('lm_head', new nn.Linear(config.hiddenSize, config.vocabSize, { ...init, bias: false }));
  }

  get lmHeadWeight(): Tensor { return this.lm_head?.weight ?? this.model.embed_tokens.weight; }

  forward(inputs: Qwen2Inputs & { labels?: Tensor; logitsToKeep?: number }): CausalLMOutput {
    const hiddenStates = this.model.forward(inputs);
    const t = hiddenStates.shape[1]!;
    const keepFrom = inputs.logitsToKeep ? t - inputs.logitsToKeep : 0;
    const logits = F.linear(keepFrom > 0 ? F.slice(hiddenStates, 1, keepFrom) : hiddenStates, this.lmHeadWeight);
    const out: CausalLMOutput = { logits, hiddenStates };
    if (inputs.labels) out.loss = causalLMLoss(logits, inputs.labels);
    return out;
  }

  /**
   * Greedy (temperature 0) or temperature/top-p sampling with a KV cache, for unpadded prompts
   * of equal length. Async because devices like WebGPU read logits asynchronously.
   */
  async generate(prompt: readonly (readonly number[])[], opts: GenerateOptions): Promise<GenerateResult> {
    const backend = this.lmHeadWeight.backend;
    const b = prompt.length, len = prompt[0]?.length ?? 0;
    if (b === 0 || len === 0 || prompt.some((r) => r.length !== len)) throw new Error('generate: prompts must be non-empty and of equal length (no padding)');
    const eos = new Set([opts.eosTokenId === undefined ? this.config.eosTokenId : opts.eosTokenId].flat().filter((x): x is number => typeof x === 'number'));
    const ids = prompt.map((r) => [...r]);
    const done = new Array<boolean>(b).fill(false);
    const stepLogits: Float32Array[] = [];
    const cache = new KVCache(this.config.numHiddenLayers);
    let next: number[][] = ids.map((r) => r.slice());
    try {
      for (let step = 0; step < opts.maxNewTokens && !done.every(Boolean); step++) {
        const logits = tidy(() => noGrad(() => {
          const input = F.tensor(Int32Array.from(next.flat()), [b, next[0]!.length], { backend, dtype: 'int32' });
          return F.reshape(this.forward({ inputIds: input, cache, logitsToKeep: 1 }).logits, [b, this.config.vocabSize]);
        }));
        const values = (await logits.data()) as Float32Array;
        logits.dispose();
        stepLogits.push(values);
        const picks = await this.pick(values, b, opts, backend);
        next = picks.map((p) => [p]);
        picks.forEach((p, r) => {
          if (done[r]) return;
          ids[r]!.push(p);
          if (eos.has(p)) done[r] = true;
        });
      }
    } finally {
      cache.dispose();
    }
    return { ids, stepLogits };
  }

  /** The next token per row from host logits [b, vocab]. */
  private async pick(logits: Float32Array, b: number, opts: GenerateOptions, backend: Backend): Promise<number[]> {
    const v = this.config.vocabSize;
    const temperature = opts.temperature ?? 0;
    const rows = Array.from({ length: b }, (_, r) => logits.subarray(r * v, (r + 1) * v));
    if (temperature <= 0) return rows.map(argmax);
    const u = F.rand([b], { backend, ...(opts.generator ? { generator: opts.generator } : {}) });
    const draws = await u.data();
    u.dispose();
    return rows.map((row, r) => sampleTopP(row, temperature, opts.topP ?? 1, draws[r]!));
  }

  /**
   * Loads config.json and model.safetensors or a sharded index (F16/BF16 widened to float32),
   * one tensor at a time into the freshly built model, after checking every name and shape.
   */
  static fromPretrained(dir: string, opts: PretrainedOptions = {}): Qwen2ForCausalLM {
    const config = parseQwen2Config(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const model = new Qwen2ForCausalLM(config, opts);
    if (opts.float16) model.eval().half();
    const ckpt = openCheckpoint(dir);
    try {
      // Some tied checkpoints store lm_head.weight as a copy of the embeddings: accepted when equal.
      loadCheckpointInto(model, ckpt, model.lmHeadWeight.backend, { where: 'Qwen2ForCausalLM.fromPretrained' });
    } finally {
      ckpt.close();
    }
    return model;
  }

  /** Writes config.json and the weights (BF16 by default) as sharded safetensors that fromPretrained and transformers read. */
  async savePretrained(dir: string, opts: SavePretrainedOptions = {}): Promise<string[]> {
    const dtype = opts.floatDtype ?? 'BF16';
    return savePretrained(this, qwen2ConfigToJson(this.config, dtype === 'BF16' ? 'bfloat16' : dtype === 'F16' ? 'float16' : 'float32'), dir, opts);
  }
}

/**
 * transformers' ForCausalLMLoss: position t is scored against labels[t + 1] (the last position
 * against -100), mean cross-entropy over the labels that are not -100.
 */
export function causalLMLoss(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  const [b, t, v] = logits.shape as [number, number, number];
  const shifted = F.concat([F.slice(labels, 1, 1), F.full([b, 1], ignoreIndex, { backend: labels.backend, dtype: 'int32' })], 1);
  return F.crossEntropy(F.reshape(logits, [b * t, v]), F.reshape(shifted, [b * t]), { ignoreIndex });
}

function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** Samples from softmax(row / temperature) restricted to the top-p nucleus, with uniform draw u. */
export function sampleTopP(row: ArrayLike<number>, temperature: number, topP: number, u: number): number {
  // A loop, not Math.max(...row): spreading a 151,936-entry vocabulary overflows the call stack.
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  const p = Array.from(row, (x) => Math.exp((x - max) / temperature));
  const z = p.reduce((s, x) => s + x, 0);
  const order = p.map((_, i) => i).sort((a, c) => p[c]! - p[a]!);
  const kept: number[] = [];
  let mass = 0;
  for (const i of order) { kept.push(i); mass += p[i]! / z; if (mass >= topP) break; }
  let target = u * kept.reduce((s, i) => s + p[i]!, 0);
  for (const i of kept) { target -= p[i]!; if (target < 0) return i; }
  return kept[kept.length - 1]!;
}
