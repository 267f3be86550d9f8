// SiglipVisionModel following transformers' modeling_siglip.py (eager attention), with the
// attention-pooling head. Parameter names are the Hugging Face keys under "vision_model.".
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F, Module, ModuleList, nn, openCheckpoint, tidy, type Backend, type Generator, type Tensor } from '@reconvla/core';
import { numPatches, parseSiglipVisionConfig, type SiglipVisionConfig } from './config.ts';

export interface InitOptions { backend?: Backend; generator?: Generator }

/** What an encoder layer needs of a config: the vision and the text towers share the layer. */
export type SiglipLayerConfig = Pick<SiglipVisionConfig, 'hiddenSize' | 'intermediateSize' | 'numAttentionHeads' | 'layerNormEps'>;

/** Multi-head attention of q [B, Tq, D] over k, v [B, Tk, D] (projected), scale head_dim^-0.5. */
function attend(q: Tensor, k: Tensor, v: Tensor, heads: number): Tensor {
  const [b, tq, d] = q.shape as [number, number, number];
  const hd = d / heads;
  const split = (x: Tensor): Tensor => F.transpose(F.reshape(x, [b, x.shape[1]!, heads, hd]), 1, 2);
  const a = F.scaledDotProductAttention(split(q), split(k), split(v), { scale: hd ** -0.5 });
  return F.reshape(F.transpose(a, 1, 2), [b, tq, d]);
}

class SiglipMLP extends Module {
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;
  constructor(cfg: SiglipLayerConfig, init: InitOptions) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(cfg.hiddenSize, cfg.intermediateSize, init));
    this.fc2 = this.registerModule('fc2', new nn.Linear(cfg.intermediateSize, cfg.hiddenSize, init));
  }
  // gelu_pytorch_tanh in fc1's matmul epilogue (one dispatch when no gradient is recorded).
  forward(x: Tensor): Tensor { return this.fc2.forward(this.fc1.forward(x, 'gelu_tanh')); }
}

class SiglipAttention extends Module {
  readonly q_proj: nn.Linear;
  readonly k_proj: nn.Linear;
  readonly v_proj: nn.Linear;
  readonly out_proj: nn.Linear;
  constructor(readonly cfg: SiglipLayerConfig, init: InitOptions) {
    super();
    const d = cfg.hiddenSize;
    this.q_proj = this.registerModule('q_proj', new nn.Linear(d, d, init));
    this.k_proj = this.registerModule('k_proj', new nn.Linear(d, d, init));
    this.v_proj = this.registerModule('v_proj', new nn.Linear(d, d, init));
    this.out_proj = this.registerModule('out_proj', new nn.Linear(d, d, init));
  }
  forward(x: Tensor): Tensor {
    return this.out_proj.forward(attend(this.q_proj.forward(x), this.k_proj.forward(x), this.v_proj.forward(x), this.cfg.numAttentionHeads));
  }
}

/** Pre-norm block: h += attn(layer_norm1(h)); h += mlp(layer_norm2(h)). */
export class SiglipEncoderLayer extends Module {
  readonly layer_norm1: nn.LayerNorm;
  readonly self_attn: SiglipAttention;
  readonly layer_norm2: nn.LayerNorm;
  readonly mlp: SiglipMLP;
  constructor(cfg: SiglipLayerConfig, init: InitOptions) {
    super();
    this.layer_norm1 = this.registerModule('layer_norm1', new nn.LayerNorm(cfg.hiddenSize, { ...init, eps: cfg.layerNormEps }));
    this.self_attn = this.registerModule('self_attn', new SiglipAttention(cfg, init));
    this.layer_norm2 = this.registerModule('layer_norm2', new nn.LayerNorm(cfg.hiddenSize, { ...init, eps: cfg.layerNormEps }));
    this.mlp = this.registerModule('mlp', new SiglipMLP(cfg, init));
  }
  forward(x: Tensor): Tensor {
    const h = F.add(x, this.self_attn.forward(this.layer_norm1.forward(x)));
    return F.add(h, this.mlp.forward(this.layer_norm2.forward(h)));
  }
}

/** Conv patches (row-major) plus a learned position embedding per patch. */
class SiglipVisionEmbeddings extends Module {
  readonly patch_embedding: nn.Conv2d;
  readonly position_embedding: nn.Embedding;
  constructor(cfg: SiglipVisionConfig, init: InitOptions) {
    super();
    this.patch_embedding = this.registerModule('patch_embedding', new nn.Conv2d(cfg.numChannels, cfg.hiddenSize, cfg.patchSize, { ...init, stride: cfg.patchSize }));
    this.position_embedding = this.registerModule('position_embedding', new nn.Embedding(numPatches(cfg), cfg.hiddenSize, init));
  }
  forward(pixels: Tensor): Tensor {
    const p = this.patch_embedding.forward(pixels); // [B, D, g, g]
    const [b, d] = p.shape as [number, number, number, number];
    const tokens = F.transpose(F.reshape(p, [b, d, -1]), 1, 2);
    return F.add(tokens, this.position_embedding.weight);
  }
}

/**
 * SiglipMultiheadAttentionPoolingHead: a learned probe attends to the tokens through a packed
 * nn.MultiheadAttention (in_proj rows [0, D) q, [D, 2D) k, [2D, 3D) v), then h = a + mlp(ln(a)).
 */
class SiglipPoolingHead extends Module {
  readonly probe: Tensor;
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor;
  readonly out_proj: nn.Linear;
  readonly layernorm: nn.LayerNorm;
  readonly mlp: SiglipMLP;
  constructor(readonly cfg: SiglipVisionConfig, init: InitOptions) {
    super();
    const d = cfg.hiddenSize;
    this.probe = this.registerParameter('probe', nn.init.normal([1, 1, d], 0, 1, init));
    const attention = this.registerModule('attention', new Module());
    this.inProjWeight = attention.registerParameter('in_proj_weight', nn.init.uniform([3 * d, d], -Math.sqrt(6 / (4 * d)), Math.sqrt(6 / (4 * d)), init) /* xavier_uniform */);
    this.inProjBias = attention.registerParameter('in_proj_bias', nn.init.constant([3 * d], 0, init));
    this.out_proj = attention.registerModule('out_proj', new nn.Linear(d, d, init));
    this.layernorm = this.registerModule('layernorm', new nn.LayerNorm(d, { ...init, eps: cfg.layerNormEps }));
    this.mlp = this.registerModule('mlp', new SiglipMLP(cfg, init));
  }
  forward(tokens: Tensor): Tensor {
    const b = tokens.shape[0]!, d = this.cfg.hiddenSize;
    const project = (x: Tensor, i: number): Tensor => F.linear(x, F.slice(this.inProjWeight, 0, i * d, (i + 1) * d), F.slice(this.inProjBias, 0, i * d, (i + 1) * d));
    const probe = F.repeat(this.probe, [b, 1, 1]);
    const a = this.out_proj.forward(attend(project(probe, 0), project(tokens, 1), project(tokens, 2), this.cfg.numAttentionHeads));
    const h = F.add(a, this.mlp.forward(this.layernorm.forward(a)));
    return F.reshape(F.slice(h, 1, 0, 1), [b, d]);
  }
}

export interface SiglipOutput {
  /** [B, patches, D] after post_layernorm. */
  lastHiddenState: Tensor;
  /** [B, D] from the attention-pooling head (absent without the head). */
  poolerOutput?: Tensor;
  /** With outputHiddenStates: embeddings, then each layer's output (before post_layernorm). */
  hiddenStates?: Tensor[];
}

class SiglipVisionTransformer extends Module {
  readonly embeddings: SiglipVisionEmbeddings;
  readonly encoder: Module;
  readonly layers: ModuleList<SiglipEncoderLayer>;
  readonly post_layernorm: nn.LayerNorm;
  readonly head: SiglipPoolingHead | null;
  constructor(readonly cfg: SiglipVisionConfig, init: InitOptions) {
    super();
    this.embeddings = this.registerModule('embeddings', new SiglipVisionEmbeddings(cfg, init));
    this.encoder = this.registerModule('encoder', new Module());
    this.layers = this.encoder.registerModule('layers', new ModuleList(Array.from({ length: cfg.numHiddenLayers }, () => new SiglipEncoderLayer(cfg, init))));
    this.post_layernorm = this.registerModule('post_layernorm', new nn.LayerNorm(cfg.hiddenSize, { ...init, eps: cfg.layerNormEps }));
    this.head = cfg.visionUseHead ? this.registerModule('head', new SiglipPoolingHead(cfg, init)) : null;
  }
  forward(pixels: Tensor, outputHiddenStates: boolean): SiglipOutput {
    let h = this.embeddings.forward(pixels);
    const hidden: Tensor[] = [h];
    for (const layer of this.layers) { h = layer.forward(h); hidden.push(h); }
    const lastHiddenState = this.post_layernorm.forward(h);
    const out: SiglipOutput = { lastHiddenState };
    if (this.head) out.poolerOutput = this.head.forward(lastHiddenState);
    if (outputHiddenStates) out.hiddenStates = hidden;
    return out;
  }
}

export class SiglipVisionModel extends Module {
  readonly vision_model: SiglipVisionTransformer;
  constructor(readonly config: SiglipVisionConfig, init: InitOptions = {}) {
    super();
    this.vision_model = this.registerModule('vision_model', new SiglipVisionTransformer(config, init));
  }

  /** pixels [B, C, image_size, image_size], already normalised (see preprocess). */
  forward(pixels: Tensor, opts: { outputHiddenStates?: boolean } = {}): SiglipOutput {
    const s = this.config.imageSize;
    if (pixels.rank !== 4 || pixels.shape[1] !== this.config.numChannels || pixels.shape[2] !== s || pixels.shape[3] !== s) {
      throw new Error(`SigLIP: pixels [${pixels.shape.join(', ')}] must be [B, ${this.config.numChannels}, ${s}, ${s}]`);
    }
    return this.vision_model.forward(pixels, opts.outputHiddenStates ?? false);
  }

  /** Loads config.json and model.safetensors (or shards). Keys may carry a "vision_tower." style prefix ending in "vision_model.". */
  static fromPretrained(dir: string, opts: InitOptions = {}): SiglipVisionModel {
    const config = parseSiglipVisionConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const model = new SiglipVisionModel(config, opts);
    const ckpt = openCheckpoint(dir);
    try {
      tidy(() => {
        const sd = new Map<string, Tensor>();
        for (const name of ckpt.names()) {
          // Full SiglipModel checkpoints also hold the text tower: take only the vision keys.
          const at = name.indexOf('vision_model.');
          if (at < 0) continue;
          sd.set(name.slice(at), F.tensor(ckpt.readFloat32(name), ckpt.info(name).shape, opts.backend ? { backend: opts.backend } : {}));
        }
        model.loadStateDict(sd);
      });
    } finally {
      ckpt.close();
    }
    return model;
  }
}
