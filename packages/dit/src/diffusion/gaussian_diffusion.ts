// Gaussian diffusion for an epsilon-predicting model with FIXED_LARGE variance (guided-diffusion
// as ReconVLA/ROSS use it): q_sample, the DDPM step, the DDIM step, and both sampling loops.
// Coefficients are looked up in the float64 tables and cast to float32 ("_extract_into_tensor"),
// then all arithmetic is float32 tensor math, so every backend computes the same thing.
import { F, keep, noGrad, tidy, type Backend, type Generator, type Tensor } from '@reconvla/core';
import { cosineBetas, diffusionTables, linearBetas, respace, spaceTimesteps, type DiffusionTables, type TableName } from './schedule.ts';

export interface DiffusionOptions {
  /** Original number of steps (1000). */
  steps?: number;
  schedule?: 'cosine' | 'linear';
  /** Respacing, as create_diffusion's timestep_respacing: "1000" keeps all, "50" or "ddim50" fewer. */
  respacing?: string;
}

export interface StepOptions {
  /** Clamp pred_xstart to [-1, 1] (guided-diffusion's default; ReconVLA samples without). */
  clipDenoised?: boolean;
}

/** eps = model(x_t, t_model): t_model is the original timestep for each row (int32 [N]). */
export type EpsModel = (xT: Tensor, tModel: Tensor) => Tensor;

export interface PSampleResult { xPrev: Tensor; mean: Tensor; logVariance: Tensor; predXstart: Tensor }
export interface DdimResult { xPrev: Tensor; predXstart: Tensor; eps: Tensor }

export class GaussianDiffusion {
  readonly tables: DiffusionTables;
  /** Spaced index -> original timestep. */
  readonly timestepMap: readonly number[];
  readonly numTimesteps: number;
  private readonly cache = new Map<Backend, Map<string, Tensor>>();

  constructor(betas: Float64Array, timestepMap?: readonly number[]) {
    this.tables = diffusionTables(betas);
    this.numTimesteps = betas.length;
    this.timestepMap = timestepMap ?? Array.from({ length: betas.length }, (_, i) => i);
  }

  /** create_diffusion: the base schedule, always wrapped in a respacing (all steps by default). */
  static create(opts: DiffusionOptions = {}): GaussianDiffusion {
    const steps = opts.steps ?? 1000;
    const base = (opts.schedule ?? 'cosine') === 'cosine' ? cosineBetas(steps) : linearBetas(steps);
    const { alphasCumprod } = diffusionTables(base);
    const { betas, timestepMap } = respace(alphasCumprod, spaceTimesteps(steps, opts.respacing ?? String(steps)));
    return new GaussianDiffusion(betas, timestepMap);
  }

  /** A float32 copy of a table on a backend (made once, kept out of tidy scopes). */
  private table(name: TableName, backend: Backend): Tensor {
    let perBackend = this.cache.get(backend);
    if (!perBackend) this.cache.set(backend, (perBackend = new Map()));
    let t = perBackend.get(name);
    if (!t) perBackend.set(name, (t = keep(F.tensor(Float32Array.from(this.tables[name]), [this.numTimesteps], { backend }))));
    return t;
  }

  /** table[t] as float32, shaped [N, 1, ...] to broadcast against x (or [N] when like is omitted). */
  extract(name: TableName, t: Tensor, like?: Tensor): Tensor {
    const v = F.indexSelect(this.table(name, t.backend), 0, t);
    return like ? F.reshape(v, [t.size, ...like.shape.slice(1).map(() => 1)]) : v;
  }

  /** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise: one combineRows dispatch for the batch. */
  qSample(x0: Tensor, t: Tensor, noise: Tensor): Tensor {
    return F.combineRows([x0, noise], [this.extract('sqrtAlphasCumprod', t), this.extract('sqrtOneMinusAlphasCumprod', t)]);
  }

  predictXstartFromEps(xT: Tensor, t: Tensor, eps: Tensor): Tensor {
    return F.combineRows([xT, eps], [this.extract('sqrtRecipAlphasCumprod', t), F.neg(this.extract('sqrtRecipm1AlphasCumprod', t))]);
  }

  predictEpsFromXstart(xT: Tensor, t: Tensor, x0: Tensor): Tensor {
    return F.div(F.sub(F.mul(this.extract('sqrtRecipAlphasCumprod', t, xT), xT), x0), this.extract('sqrtRecipm1AlphasCumprod', t, xT));
  }

  private predXstart(xT: Tensor, t: Tensor, eps: Tensor, opts: StepOptions): Tensor {
    const x0 = this.predictXstartFromEps(xT, t, eps);
    return opts.clipDenoised ? F.minimum(F.maximum(x0, -1), 1) : x0;
  }

  /**
   * One DDPM step from x_t at (spaced) timesteps t [N] given the model's eps: mean of
   * q(x_{t-1} | x_t, x0_pred), FIXED_LARGE log variance, and x_prev = mean + sigma * noise
   * (no noise where t = 0).
   */
  pSample(xT: Tensor, t: Tensor, eps: Tensor, noise: Tensor, opts: StepOptions = {}): PSampleResult {
    const predXstart = this.predXstart(xT, t, eps, opts);
    const mean = F.combineRows([predXstart, xT], [this.extract('posteriorMeanCoef1', t), this.extract('posteriorMeanCoef2', t)]);
    const logVariance = this.extract('fixedLargeLogVariance', t);
    const xPrev = F.combineRows([mean, noise], [F.ones([t.size], { backend: t.backend }), this.noiseScale(t, logVariance)]);
    return { xPrev, mean, logVariance, predXstart };
  }

  /** sigma_t = exp(logvar_t / 2), 0 where t = 0 (no noise on the last step). */
  private noiseScale(t: Tensor, logVariance: Tensor): Tensor {
    return F.mul(F.astype(F.ne(t, 0), 'float32'), F.exp(F.mul(logVariance, 0.5)));
  }

  /**
   * The DDPM update folded into one dispatch for the sampling loop (no clipping):
   * x_prev = (c1 sr + c2) x_t - c1 srm1 eps + sigma noise, the same algebra as pSample.
   */
  pSampleFused(xT: Tensor, t: Tensor, eps: Tensor, noise: Tensor): Tensor {
    const c1 = this.extract('posteriorMeanCoef1', t), c2 = this.extract('posteriorMeanCoef2', t);
    const a = F.add(F.mul(c1, this.extract('sqrtRecipAlphasCumprod', t)), c2);
    const b = F.neg(F.mul(c1, this.extract('sqrtRecipm1AlphasCumprod', t)));
    return F.combineRows([xT, eps, noise], [a, b, this.noiseScale(t, this.extract('fixedLargeLogVariance', t))]);
  }

  /**
   * The eta-0 DDIM update folded into one dispatch (no clipping, where the re-derived eps is eps):
   * x_prev = sqrt(abar_prev) sr x_t + (sqrt(1 - abar_prev) - sqrt(abar_prev) srm1) eps.
   */
  ddimSampleFused(xT: Tensor, t: Tensor, eps: Tensor): Tensor {
    const sPrev = F.sqrt(this.extract('alphasCumprodPrev', t));
    const a = F.mul(sPrev, this.extract('sqrtRecipAlphasCumprod', t));
    const b = F.sub(F.sqrt(F.sub(1, this.extract('alphasCumprodPrev', t))), F.mul(sPrev, this.extract('sqrtRecipm1AlphasCumprod', t)));
    return F.combineRows([xT, eps], [a, b]);
  }

  /** One DDIM step (eta 0 by default) from spaced index t to t - 1; noise is used only when eta > 0. */
  ddimSample(xT: Tensor, t: Tensor, eps: Tensor, opts: StepOptions & { eta?: number; noise?: Tensor } = {}): DdimResult {
    const predXstart = this.predXstart(xT, t, eps, opts);
    const epsRe = this.predictEpsFromXstart(xT, t, predXstart);
    const aBar = this.extract('alphasCumprod', t, xT), aBarPrev = this.extract('alphasCumprodPrev', t, xT);
    const eta = opts.eta ?? 0;
    let xPrev = F.add(F.mul(predXstart, F.sqrt(aBarPrev)), F.mul(F.sqrt(F.sub(1, aBarPrev)), epsRe));
    if (eta > 0) {
      if (!opts.noise) throw new Error('ddimSample: eta > 0 needs noise');
      // sigma = eta sqrt((1 - abar_prev)/(1 - abar)) sqrt(1 - abar/abar_prev)
      const sigma = F.mul(F.mul(F.sqrt(F.div(F.sub(1, aBarPrev), F.sub(1, aBar))), F.sqrt(F.sub(1, F.div(aBar, aBarPrev)))), eta);
      const mean = F.add(F.mul(predXstart, F.sqrt(aBarPrev)), F.mul(F.sqrt(F.sub(F.sub(1, aBarPrev), F.square(sigma))), epsRe));
      const nonzero = F.reshape(F.astype(F.ne(t, 0), 'float32'), aBar.shape);
      xPrev = F.add(mean, F.mul(F.mul(nonzero, sigma), opts.noise));
    }
    return { xPrev, predXstart, eps: epsRe };
  }

  /** Original timesteps the model sees for spaced indices t (int32 [N]). */
  modelTimesteps(t: Tensor): Tensor {
    const map = F.tensor(Int32Array.from(this.timestepMap), [this.timestepMap.length], { backend: t.backend });
    return F.indexSelect(map, 0, t);
  }

  /** DDPM ancestral sampling from pure noise of the given shape (p_sample_loop). */
  pSampleLoop(model: EpsModel, shape: number[], opts: StepOptions & { generator?: Generator; backend?: Backend; noise?: Tensor } = {}): Tensor {
    return this.loop(shape, opts, (x, t, gen) => {
      const eps = model(x, this.modelTimesteps(t));
      const noise = F.randn(x.shape, { backend: x.backend, ...gen });
      return opts.clipDenoised ? this.pSample(x, t, eps, noise, opts).xPrev : this.pSampleFused(x, t, eps, noise);
    });
  }

  /** Deterministic DDIM sampling (eta 0) over the spaced steps (ddim_sample_loop). */
  ddimSampleLoop(model: EpsModel, shape: number[], opts: StepOptions & { eta?: number; generator?: Generator; backend?: Backend; noise?: Tensor } = {}): Tensor {
    return this.loop(shape, opts, (x, t, gen) => {
      const eps = model(x, this.modelTimesteps(t));
      const noise = (opts.eta ?? 0) > 0 ? F.randn(x.shape, { backend: x.backend, ...gen }) : undefined;
      if (!noise && !opts.clipDenoised) return this.ddimSampleFused(x, t, eps);
      return this.ddimSample(x, t, eps, { ...opts, ...(noise ? { noise } : {}) }).xPrev;
    });
  }

  private loop(shape: number[], opts: { generator?: Generator; backend?: Backend; noise?: Tensor },
    step: (x: Tensor, t: Tensor, gen: { generator?: Generator }) => Tensor): Tensor {
    return noGrad(() => {
    const gen = opts.generator ? { generator: opts.generator } : {};
    let x = opts.noise ?? F.randn(shape, { ...(opts.backend ? { backend: opts.backend } : {}), ...gen });
    for (let i = this.numTimesteps - 1; i >= 0; i--) {
      const prev = x;
      x = tidy(() => step(prev, F.full([shape[0]!], i, { dtype: 'int32', backend: prev.backend }), gen));
      if (prev !== opts.noise) prev.dispose();
    }
    return x;
    });
  }
}
