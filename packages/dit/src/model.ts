// ReconDenoiser: ReconVLA's mm_inv_projector. ln_pre normalises the LLM's reconstructive
// tokens, the DiT ("net") predicts the noise added to the target latent, and the vm loss is
// the noise-prediction MSE over the batch repeated `repeat` times with independent t and noise.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F, Module, openCheckpoint, tidy, type Backend, type Generator, type Tensor } from '@reconvla/core';
import { numTokens, parseDiTConfig, type DiTConfig } from './config.ts';
import { DiT, type Trace } from './dit.ts';
import { GaussianDiffusion } from './diffusion/gaussian_diffusion.ts';

export interface VmLossInputs {
  /** Reconstructive tokens from the LLM [B, T, Cz], before ln_pre. */
  cond: Tensor;
  /** Clean target latent [B, C, h, w]. */
  x0: Tensor;
  /** Timesteps [repeat*B] (int32) and noise [repeat*B, C, h, w]; drawn from generator when omitted. */
  t?: Tensor;
  noise?: Tensor;
  generator?: Generator;
}

export interface VmLossResult {
  loss: Tensor;
  /** Per-row mean over (C, h, w) of (noise - eps)^2. */
  msePerSample: Tensor;
  modelOut: Tensor;
  xT: Tensor;
  t: Tensor;
  noise: Tensor;
}

export class ReconDenoiser extends Module {
  readonly net: DiT;
  /** The training diffusion (config.timesteps respacing, all 1000 steps upstream). */
  readonly diffusion: GaussianDiffusion;

  constructor(readonly config: DiTConfig, opts: { backend?: Backend; generator?: Generator } = {}) {
    super();
    this.net = this.registerModule('net', new DiT(config, opts));
    this.diffusion = GaussianDiffusion.create({ steps: config.diffusionSteps, schedule: config.noiseSchedule, respacing: config.timesteps });
  }

  /** ln_pre: LayerNorm without affine parameters over the token features. */
  lnPre(cond: Tensor): Tensor {
    return F.layerNorm(cond, [this.config.zChannel], null, null, this.config.lnPreEps);
  }

  /** Epsilon prediction for x_t [N, C, h, w] at timesteps t [N] given ln_pre'd tokens z [N, T, Cz]. */
  forward(xT: Tensor, t: Tensor, z: Tensor, trace?: Trace): Tensor {
    return this.net.forward(xT, t, z, trace);
  }

  /**
   * compute_vm_loss: z = ln_pre(cond) and x0 tiled `repeat` times (row r*B + b is sample b),
   * x_t = q_sample(x0, t, noise), loss = (mean(mse) * m).sum() / (m.sum() + eps) with m = 1.
   */
  vmLoss(inputs: VmLossInputs, trace?: Trace): VmLossResult {
    const { cond, x0 } = inputs;
    const r = this.config.repeat, b = x0.shape[0]!, n = r * b;
    if (cond.shape[0] !== b) throw new Error(`vmLoss: cond has batch ${cond.shape[0]}, x0 has ${b}`);
    const gen = inputs.generator ? { generator: inputs.generator } : {};
    const t = inputs.t ?? F.randint(0, this.diffusion.numTimesteps, [n], { backend: x0.backend, ...gen });
    const noise = inputs.noise ?? F.randn([n, ...x0.shape.slice(1)], { backend: x0.backend, ...gen });
    const z = this.lnPre(cond);
    trace?.set('ln_pre', z);
    const zRep = F.repeat(z, [r, 1, 1]);
    const x0Rep = F.repeat(x0, [r, 1, 1, 1]);
    const xT = this.diffusion.qSample(x0Rep, t, noise);
    const modelOut = this.forward(xT, t, zRep, trace);
    const msePerSample = F.mean(F.square(F.sub(noise, modelOut)), [1, 2, 3]);
    const loss = F.div(F.mul(F.mean(msePerSample), n), n + this.config.vmLossEps);
    return { loss, msePerSample, modelOut, xT, t, noise };
  }

  /** DDPM sampling of latents [N, C, h, w] for ln_pre'd tokens z [N, T, Cz] (upstream's sample()). */
  sample(z: Tensor, opts: { generator?: Generator; clipDenoised?: boolean; ddimSteps?: number } = {}): Tensor {
    const n = z.shape[0]!, side = this.config.inputSize;
    const shape = [n, this.config.xChannel, side, side];
    const model = (x: Tensor, tm: Tensor): Tensor => this.forward(x, tm, z);
    if (opts.ddimSteps) {
      const ddim = GaussianDiffusion.create({ steps: this.config.diffusionSteps, schedule: this.config.noiseSchedule, respacing: String(opts.ddimSteps) });
      return ddim.ddimSampleLoop(model, shape, { ...opts, backend: z.backend });
    }
    return this.diffusion.pSampleLoop(model, shape, { ...opts, backend: z.backend });
  }

  get numTokens(): number { return numTokens(this.config); }

  /**
   * Loads config.json and model.safetensors (or a sharded index) from a folder. Keys may carry
   * ReconVLA's "model.mm_inv_projector." prefix.
   */
  static fromPretrained(dir: string, opts: { backend?: Backend } = {}): ReconDenoiser {
    const config = parseDiTConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    const model = new ReconDenoiser(config, opts);
    const ckpt = openCheckpoint(dir);
    try {
      const prefix = ckpt.names().some((k) => k.startsWith('model.mm_inv_projector.')) ? 'model.mm_inv_projector.' : '';
      tidy(() => {
        const sd = new Map<string, Tensor>();
        for (const name of ckpt.names()) {
          if (!name.startsWith(prefix)) continue;
          sd.set(name.slice(prefix.length), F.tensor(ckpt.readFloat32(name), ckpt.info(name).shape, opts.backend ? { backend: opts.backend } : {}));
        }
        model.loadStateDict(sd);
      });
    } finally {
      ckpt.close();
    }
    return model;
  }
}
