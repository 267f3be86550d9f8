// diffusers AutoencoderKL: Encoder -> (quant_conv) -> diagonal Gaussian posterior over latents;
// (post_quant_conv) -> Decoder. Parameter names are diffusers' state-dict keys.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F, Module, ModuleList, nn, openCheckpoint, tidy, type Generator, type Tensor } from '@reconvla/core';
import { parseVaeConfig, type VaeConfig } from './config.ts';
import { MidBlock2D, ResnetStage } from './blocks.ts';
import type { InitOptions } from './init_options.ts';

export class Encoder extends Module {
  readonly conv_in: nn.Conv2d;
  readonly down_blocks: ModuleList<ResnetStage>;
  readonly mid_block: MidBlock2D;
  readonly conv_norm_out: nn.GroupNorm;
  readonly conv_out: nn.Conv2d;
  constructor(cfg: VaeConfig, init: InitOptions) {
    super();
    const boc = cfg.blockOutChannels, g = cfg.normNumGroups, last = boc[boc.length - 1]!;
    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(cfg.inChannels, boc[0]!, 3, { ...init, padding: 1 }));
    this.down_blocks = this.registerModule('down_blocks', new ModuleList(boc.map((ch, i) =>
      new ResnetStage(i === 0 ? boc[0]! : boc[i - 1]!, ch, cfg.layersPerBlock, g, i < boc.length - 1 ? 'down' : null, init))));
    this.mid_block = this.registerModule('mid_block', new MidBlock2D(last, g, cfg.midBlockAddAttention, init));
    this.conv_norm_out = this.registerModule('conv_norm_out', new nn.GroupNorm(g, last, { ...init, eps: 1e-6 }));
    // double_z: mean and log-variance for every latent channel.
    this.conv_out = this.registerModule('conv_out', new nn.Conv2d(last, 2 * cfg.latentChannels, 3, { ...init, padding: 1 }));
  }
  forward(x: Tensor): Tensor {
    let h = this.conv_in.forward(x);
    for (const block of this.down_blocks) h = block.forward(h);
    h = this.mid_block.forward(h);
    return this.conv_out.forward(F.silu(this.conv_norm_out.forward(h)));
  }
}

export class Decoder extends Module {
  readonly conv_in: nn.Conv2d;
  readonly mid_block: MidBlock2D;
  readonly up_blocks: ModuleList<ResnetStage>;
  readonly conv_norm_out: nn.GroupNorm;
  readonly conv_out: nn.Conv2d;
  constructor(cfg: VaeConfig, init: InitOptions) {
    super();
    const rev = [...cfg.blockOutChannels].reverse(), g = cfg.normNumGroups;
    this.conv_in = this.registerModule('conv_in', new nn.Conv2d(cfg.latentChannels, rev[0]!, 3, { ...init, padding: 1 }));
    this.mid_block = this.registerModule('mid_block', new MidBlock2D(rev[0]!, g, cfg.midBlockAddAttention, init));
    this.up_blocks = this.registerModule('up_blocks', new ModuleList(rev.map((ch, i) =>
      new ResnetStage(i === 0 ? rev[0]! : rev[i - 1]!, ch, cfg.layersPerBlock + 1, g, i < rev.length - 1 ? 'up' : null, init))));
    this.conv_norm_out = this.registerModule('conv_norm_out', new nn.GroupNorm(g, rev[rev.length - 1]!, { ...init, eps: 1e-6 }));
    this.conv_out = this.registerModule('conv_out', new nn.Conv2d(rev[rev.length - 1]!, cfg.outChannels, 3, { ...init, padding: 1 }));
  }
  forward(z: Tensor): Tensor {
    let h = this.mid_block.forward(this.conv_in.forward(z));
    for (const block of this.up_blocks) h = block.forward(h);
    return this.conv_out.forward(F.silu(this.conv_norm_out.forward(h)));
  }
}

/** DiagonalGaussianDistribution: mean and log-variance (clamped to [-30, 20]) per latent element. */
export class DiagonalGaussian {
  readonly mean: Tensor;
  readonly logvar: Tensor;
  constructor(moments: Tensor) {
    const [mean, logvar] = F.chunk(moments, 2, 1) as [Tensor, Tensor];
    this.mean = mean;
    this.logvar = F.minimum(F.maximum(logvar, -30), 20);
  }
  get std(): Tensor { return F.exp(F.mul(this.logvar, 0.5)); }
  mode(): Tensor { return this.mean; }
  /** mean + std * noise, with noise drawn from the generator unless given. */
  sample(opts: { generator?: Generator; noise?: Tensor } = {}): Tensor {
    const noise = opts.noise ?? F.randn(this.mean.shape, { backend: this.mean.backend, ...(opts.generator ? { generator: opts.generator } : {}) });
    return F.add(this.mean, F.mul(this.std, noise));
  }
}

export class AutoencoderKL extends Module {
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly quant_conv: nn.Conv2d | null;
  readonly post_quant_conv: nn.Conv2d | null;

  constructor(readonly config: VaeConfig, init: InitOptions = {}) {
    super();
    const l = config.latentChannels;
    this.encoder = this.registerModule('encoder', new Encoder(config, init));
    this.decoder = this.registerModule('decoder', new Decoder(config, init));
    this.quant_conv = config.useQuantConv ? this.registerModule('quant_conv', new nn.Conv2d(2 * l, 2 * l, 1, init)) : null;
    this.post_quant_conv = config.usePostQuantConv ? this.registerModule('post_quant_conv', new nn.Conv2d(l, l, 1, init)) : null;
  }

  /** Images [B, C, H, W] in [-1, 1] -> posterior over latents [B, latent, H/f, W/f]. */
  encode(x: Tensor): DiagonalGaussian {
    const moments = this.encoder.forward(x);
    return new DiagonalGaussian(this.quant_conv ? this.quant_conv.forward(moments) : moments);
  }

  /** Latents (unscaled) -> images. */
  decode(z: Tensor): Tensor {
    return this.decoder.forward(this.post_quant_conv ? this.post_quant_conv.forward(z) : z);
  }

  /** Pipelines' latent normalisation: (z - shift_factor) * scaling_factor. */
  scaleLatents(z: Tensor): Tensor { return F.mul(F.sub(z, this.config.shiftFactor), this.config.scalingFactor); }
  unscaleLatents(z: Tensor): Tensor { return F.add(F.div(z, this.config.scalingFactor), this.config.shiftFactor); }

  /** Spatial downsampling factor: 2 per down block except the last. */
  get downsampleFactor(): number { return 2 ** (this.config.blockOutChannels.length - 1); }

  /**
   * Loads config.json and the weights (model.safetensors, diffusion_pytorch_model.safetensors, or
   * shards). Keys may sit under a prefix ending in "encoder."/"decoder." (e.g. ReconVLA's
   * "model.pixel_decoder.pixel_decoder."); with { strict: false } a checkpoint holding only the
   * encoder loads too.
   */
  static fromPretrained(dir: string, opts: InitOptions & { strict?: boolean } = {}): AutoencoderKL {
    const config = parseVaeConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const model = new AutoencoderKL(config, opts);
    const diffusersFile = path.join(dir, 'diffusion_pytorch_model.safetensors');
    const ckpt = openCheckpoint(fs.existsSync(path.join(dir, 'model.safetensors')) || !fs.existsSync(diffusersFile) ? dir : diffusersFile);
    try {
      const names = ckpt.names();
      const first = names.find((n) => /(^|\.)(encoder|decoder|quant_conv|post_quant_conv)\./.test(n)) ?? '';
      const prefix = first.slice(0, first.search(/(encoder|decoder|quant_conv|post_quant_conv)\./));
      tidy(() => {
        const sd = new Map<string, Tensor>();
        for (const name of names) {
          if (!name.startsWith(prefix)) continue;
          sd.set(name.slice(prefix.length), F.tensor(ckpt.readFloat32(name), ckpt.info(name).shape, opts.backend ? { backend: opts.backend } : {}));
        }
        model.loadStateDict(sd, { strict: opts.strict ?? true });
      });
    } finally {
      ckpt.close();
    }
    return model;
  }
}
