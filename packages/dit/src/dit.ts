// The DiT denoiser network with per-token adaLN-Zero conditioning (ReconVLA/ROSS
// denoiser_dit.py, timm 0.6.13 Attention/Mlp). Patch size 1: every latent cell is a token.
// Parameter names are the upstream state-dict keys under "net.".
import { F, getBackend, Module, ModuleList, nn, type Backend, type Generator, type Tensor } from '@reconvla/core';
import { numTokens, type DiTConfig } from './config.ts';
import { sinCosPosEmbed2d, timestepFrequencies } from './embeddings.ts';

/** Named intermediates, filled when a trace map is passed to forward (tests compare them). */
export type Trace = Map<string, Tensor>;

/** x * (1 + scale) + shift: how adaLN applies the condition. */
function modulate(x: Tensor, shift: Tensor, scale: Tensor): Tensor {
  return F.add(F.mul(x, F.add(scale, 1)), shift);
}

/** A module holding one child under a numeric name, like an nn.Sequential(act, Linear). */
function sequentialSlot<M extends Module>(index: number, child: M): Module {
  const seq = new Module();
  seq.registerModule(String(index), child);
  return seq;
}

/** timm Attention: fused qkv, heads split as (3, heads, head_dim) along the features. */
class Attention extends Module {
  readonly qkv: nn.Linear;
  readonly proj: nn.Linear;
  constructor(readonly dim: number, readonly heads: number, init: InitOptions) {
    super();
    this.qkv = this.registerModule('qkv', new nn.Linear(dim, 3 * dim, init));
    this.proj = this.registerModule('proj', new nn.Linear(dim, dim, init));
  }
  forward(x: Tensor): Tensor {
    const [n, t] = x.shape as [number, number, number];
    const hd = this.dim / this.heads;
    const qkv = F.permute(F.reshape(this.qkv.forward(x), [n, t, 3, this.heads, hd]), [2, 0, 3, 1, 4]);
    const [q, k, v] = [0, 1, 2].map((i) => F.reshape(F.slice(qkv, 0, i, i + 1), [n, this.heads, t, hd])) as [Tensor, Tensor, Tensor];
    const a = F.scaledDotProductAttention(q, k, v, { scale: hd ** -0.5 });
    return this.proj.forward(F.reshape(F.transpose(a, 1, 2), [n, t, this.dim]));
  }
}

/** timm Mlp with the tanh-approximated GELU DiT uses. */
class Mlp extends Module {
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;
  constructor(dim: number, hidden: number, init: InitOptions) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(dim, hidden, init));
    this.fc2 = this.registerModule('fc2', new nn.Linear(hidden, dim, init));
  }
  // GELU(tanh) in fc1's matmul epilogue (one dispatch when no gradient is recorded, e.g. sampling).
  forward(x: Tensor): Tensor { return this.fc2.forward(this.fc1.forward(x, 'gelu_tanh')); }
}

/** x += gate_msa * Attn(mod(LN(x))); x += gate_mlp * MLP(mod(LN(x))), modulation per token. */
class DiTBlock extends Module {
  readonly attn: Attention;
  readonly mlp: Mlp;
  readonly adaLN: nn.Linear;
  constructor(readonly cfg: DiTConfig, init: InitOptions) {
    super();
    const d = cfg.embedDim;
    this.attn = this.registerModule('attn', new Attention(d, cfg.numHeads, init));
    this.mlp = this.registerModule('mlp', new Mlp(d, Math.trunc(d * cfg.mlpRatio), init));
    this.adaLN = new nn.Linear(d, 6 * d, init);
    this.registerModule('adaLN_modulation', sequentialSlot(1, this.adaLN));
  }
  forward(x: Tensor, c: Tensor): Tensor {
    const d = this.cfg.embedDim, eps = this.cfg.normEps;
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = F.chunk(this.adaLN.forward(F.silu(c)), 6, -1) as Tensor[];
    const norm = (h: Tensor): Tensor => F.layerNorm(h, [d], null, null, eps);
    x = F.add(x, F.mul(gateMsa!, this.attn.forward(modulate(norm(x), shiftMsa!, scaleMsa!))));
    return F.add(x, F.mul(gateMlp!, this.mlp.forward(modulate(norm(x), shiftMlp!, scaleMlp!))));
  }
}

/** out = Linear(mod(LN(x))) with shift, scale = Linear(SiLU(c)).chunk(2) (shift first). */
class FinalLayer extends Module {
  readonly linear: nn.Linear;
  readonly adaLN: nn.Linear;
  constructor(readonly cfg: DiTConfig, init: InitOptions) {
    super();
    const d = cfg.embedDim;
    this.linear = this.registerModule('linear', new nn.Linear(d, cfg.xChannel, init));
    this.adaLN = new nn.Linear(d, 2 * d, init);
    this.registerModule('adaLN_modulation', sequentialSlot(1, this.adaLN));
  }
  forward(x: Tensor, c: Tensor): Tensor {
    const [shift, scale] = F.chunk(this.adaLN.forward(F.silu(c)), 2, -1) as [Tensor, Tensor];
    return this.linear.forward(modulate(F.layerNorm(x, [this.cfg.embedDim], null, null, this.cfg.normEps), shift, scale));
  }
}

/** Timestep features -> Linear -> SiLU -> Linear (t_embedder.mlp.{0,2}). */
class TimestepEmbedder extends Module {
  readonly fc0: nn.Linear;
  readonly fc2: nn.Linear;
  constructor(readonly cfg: DiTConfig, init: InitOptions) {
    super();
    this.fc0 = new nn.Linear(cfg.frequencyEmbeddingSize, cfg.embedDim, init);
    this.fc2 = new nn.Linear(cfg.embedDim, cfg.embedDim, init);
    const mlp = this.registerModule('mlp', new Module());
    mlp.registerModule('0', this.fc0);
    mlp.registerModule('2', this.fc2);
  }
  forward(t: Tensor, trace?: Trace): Tensor {
    const freq = timestepFrequencies(t, this.cfg.frequencyEmbeddingSize, this.cfg.maxPeriod);
    trace?.set('t_freq', freq);
    return this.fc2.forward(this.fc0.forward(freq, 'silu'));
  }
}

/** The 1x1-conv patch embedding (x_embedder.proj, weight [D, C, 1, 1]) applied per token. */
class PatchEmbed1x1 extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(cfg: DiTConfig, init: InitOptions) {
    super();
    const proj = this.registerModule('proj', new Module());
    this.weight = proj.registerParameter('weight', nn.init.kaimingUniform([cfg.embedDim, cfg.xChannel, 1, 1], Math.sqrt(5), init));
    this.bias = proj.registerParameter('bias', nn.init.fanInUniform([cfg.embedDim], cfg.xChannel, init));
  }
  /** [N, C, h, w] -> [N, h*w, D], tokens row-major. */
  forward(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const tokens = F.transpose(F.reshape(x, [n, c, h * w]), 1, 2);
    return F.linear(tokens, F.reshape(this.weight, [this.weight.shape[0]!, c]), this.bias);
  }
}

/** Where parameters live and which random stream initialises them (checkpoints overwrite it). */
export interface InitOptions { backend?: Backend; generator?: Generator }
export type DiTOptions = InitOptions;

export class DiT extends Module {
  readonly xEmbedder: PatchEmbed1x1;
  readonly tEmbedder: TimestepEmbedder;
  readonly zEmbedder: nn.Linear;
  readonly blocks: ModuleList<DiTBlock>;
  readonly finalLayer: FinalLayer;
  readonly posEmbed: Tensor;

  constructor(readonly config: DiTConfig, opts: DiTOptions = {}) {
    super();
    const init: InitOptions = opts;
    const backend = opts.backend ?? getBackend();
    // A fixed table, stored in checkpoints but never trained: a persistent buffer.
    this.posEmbed = this.registerBuffer('pos_embed', sinCosPosEmbed2d(config.embedDim, config.inputSize, backend));
    this.xEmbedder = this.registerModule('x_embedder', new PatchEmbed1x1(config, init));
    this.tEmbedder = this.registerModule('t_embedder', new TimestepEmbedder(config, init));
    this.zEmbedder = new nn.Linear(config.zChannel, config.embedDim, init);
    this.registerModule('z_embedder', sequentialSlot(1, this.zEmbedder));
    this.blocks = this.registerModule('blocks', new ModuleList(Array.from({ length: config.depth }, () => new DiTBlock(config, init))));
    this.finalLayer = this.registerModule('final_layer', new FinalLayer(config, init));
  }

  /**
   * Epsilon prediction [N, C, h, w] for noisy latents x [N, C, h, w], int32 timesteps t [N] and
   * condition tokens z [N, h*w, Cz] (already through ln_pre; token k = row*w + col).
   */
  forward(x: Tensor, t: Tensor, z: Tensor, trace?: Trace): Tensor {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    if (h !== this.config.inputSize || w !== this.config.inputSize || c !== this.config.xChannel) {
      throw new Error(`DiT: latents [${x.shape.join(', ')}] do not match the config (C ${this.config.xChannel}, grid ${this.config.inputSize})`);
    }
    if (z.rank !== 3 || z.shape[0] !== n || z.shape[1] !== numTokens(this.config) || z.shape[2] !== this.config.zChannel) {
      throw new Error(`DiT: condition [${z.shape.join(', ')}] must be [${n}, ${numTokens(this.config)}, ${this.config.zChannel}]`);
    }
    const tEmb = this.tEmbedder.forward(t, trace);
    const zEmb = this.zEmbedder.forward(F.silu(z));
    // Per-token condition: the timestep embedding broadcast over the tokens plus each token's own.
    const cond = F.add(F.reshape(tEmb, [n, 1, this.config.embedDim]), zEmb);
    let tokens = F.add(this.xEmbedder.forward(x), this.posEmbed);
    trace?.set('t_emb', tEmb).set('z_emb', zEmb).set('c', cond).set('x_embed', tokens);
    this.blocks.items.forEach((block, i) => {
      tokens = block.forward(tokens, cond);
      trace?.set(`blocks.${i}`, tokens);
    });
    const out = this.finalLayer.forward(tokens, cond);
    trace?.set('final_tokens', out);
    // Unpatchify (p = 1): out[n, ch, r, c] = tokens[n, r*w + c, ch].
    return F.reshape(F.transpose(out, 1, 2), [n, c, h, w]);
  }
}
