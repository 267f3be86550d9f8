// Noise schedules and the float64 tables of guided-diffusion's GaussianDiffusion.__init__,
// with create_diffusion's respacing (space_timesteps + SpacedDiffusion). Everything here is
// float64 on the host, as numpy computes it; tensors get float32 copies at lookup time.

/** Cosine schedule (improved DDPM): betas[i] = min(1 - abar((i+1)/n) / abar(i/n), maxBeta). */
export function cosineBetas(steps: number, maxBeta = 0.999): Float64Array {
  const alphaBar = (s: number): number => Math.cos(((s + 0.008) / 1.008) * Math.PI / 2) ** 2;
  return Float64Array.from({ length: steps }, (_, i) => Math.min(1 - alphaBar((i + 1) / steps) / alphaBar(i / steps), maxBeta));
}

/** Linear schedule from the DDPM paper, scaled to the number of steps (np.linspace). */
export function linearBetas(steps: number): Float64Array {
  const scale = 1000 / steps, start = scale * 0.0001, end = scale * 0.02;
  return Float64Array.from({ length: steps }, (_, i) => (steps === 1 ? start : start + ((end - start) * i) / (steps - 1)));
}

export interface DiffusionTables {
  betas: Float64Array;
  alphasCumprod: Float64Array;
  alphasCumprodPrev: Float64Array;
  alphasCumprodNext: Float64Array;
  sqrtAlphasCumprod: Float64Array;
  sqrtOneMinusAlphasCumprod: Float64Array;
  logOneMinusAlphasCumprod: Float64Array;
  sqrtRecipAlphasCumprod: Float64Array;
  sqrtRecipm1AlphasCumprod: Float64Array;
  posteriorVariance: Float64Array;
  /** log of the posterior variance, with the t=0 entry (0) replaced by the t=1 one. */
  posteriorLogVarianceClipped: Float64Array;
  posteriorMeanCoef1: Float64Array;
  posteriorMeanCoef2: Float64Array;
  /** FIXED_LARGE model variance: [posterior_variance[1], betas[1:]]. */
  fixedLargeVariance: Float64Array;
  fixedLargeLogVariance: Float64Array;
}

export type TableName = keyof DiffusionTables;

/** Every table GaussianDiffusion derives from betas, by the same float64 formulas. */
export function diffusionTables(betas: Float64Array): DiffusionTables {
  const n = betas.length;
  const map = (f: (i: number) => number): Float64Array => Float64Array.from({ length: n }, (_, i) => f(i));
  const ac = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) ac[i] = prod *= 1 - betas[i]!; // np.cumprod: a running product
  const acPrev = map((i) => (i === 0 ? 1 : ac[i - 1]!));
  const acNext = map((i) => (i === n - 1 ? 0 : ac[i + 1]!));
  const pv = map((i) => (betas[i]! * (1 - acPrev[i]!)) / (1 - ac[i]!));
  const fixedLarge = map((i) => (i === 0 ? pv[1]! : betas[i]!));
  return {
    betas: Float64Array.from(betas),
    alphasCumprod: ac,
    alphasCumprodPrev: acPrev,
    alphasCumprodNext: acNext,
    sqrtAlphasCumprod: map((i) => Math.sqrt(ac[i]!)),
    sqrtOneMinusAlphasCumprod: map((i) => Math.sqrt(1 - ac[i]!)),
    logOneMinusAlphasCumprod: map((i) => Math.log(1 - ac[i]!)),
    sqrtRecipAlphasCumprod: map((i) => Math.sqrt(1 / ac[i]!)),
    sqrtRecipm1AlphasCumprod: map((i) => Math.sqrt(1 / ac[i]! - 1)),
    posteriorVariance: pv,
    posteriorLogVarianceClipped: map((i) => Math.log(i === 0 ? pv[1]! : pv[i]!)),
    posteriorMeanCoef1: map((i) => (betas[i]! * Math.sqrt(acPrev[i]!)) / (1 - ac[i]!)),
    posteriorMeanCoef2: map((i) => ((1 - acPrev[i]!) * Math.sqrt(1 - betas[i]!)) / (1 - ac[i]!)),
    fixedLargeVariance: fixedLarge,
    fixedLargeLogVariance: map((i) => Math.log(fixedLarge[i]!)),
  };
}

/** Python's round(): halves go to the even neighbour. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * guided-diffusion's space_timesteps: which of `steps` original timesteps to keep, from
 * "50" / "10,15,20" (counts per equal section) or "ddim25" (an even stride). Sorted.
 */
export function spaceTimesteps(steps: number, sectionCounts: string): number[] {
  if (sectionCounts.startsWith('ddim')) {
    const want = Number(sectionCounts.slice(4));
    for (let stride = 1; stride < steps; stride++) {
      if (Math.ceil(steps / stride) === want) return Array.from({ length: want }, (_, i) => i * stride);
    }
    throw new Error(`spaceTimesteps: cannot create exactly ${want} steps with an integer stride from ${steps}`);
  }
  const counts = sectionCounts.split(',').map((s) => {
    const v = Number(s);
    if (!Number.isInteger(v) || v < 0) throw new Error(`spaceTimesteps: bad section count "${s}" in "${sectionCounts}"`);
    return v;
  });
  const sizePer = Math.floor(steps / counts.length), extra = steps % counts.length;
  const kept = new Set<number>();
  let start = 0;
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (size < count) throw new Error(`spaceTimesteps: cannot divide a section of ${size} steps into ${count}`);
    const stride = count <= 1 ? 1 : (size - 1) / (count - 1);
    let cur = 0;
    for (let k = 0; k < count; k++) { kept.add(start + pyRound(cur)); cur += stride; }
    start += size;
  });
  return [...kept].sort((a, b) => a - b);
}

/**
 * SpacedDiffusion: betas of the kept steps, betas[k] = 1 - ac[map[k]] / ac[map[k-1]], and the
 * map from spaced index to original timestep (what the model is called with).
 */
export function respace(alphasCumprod: Float64Array, keep: readonly number[]): { betas: Float64Array; timestepMap: number[] } {
  const keepSet = new Set(keep);
  const betas: number[] = [], timestepMap: number[] = [];
  let last = 1;
  alphasCumprod.forEach((ac, i) => {
    if (!keepSet.has(i)) return;
    betas.push(1 - ac / last);
    last = ac;
    timestepMap.push(i);
  });
  return { betas: Float64Array.from(betas), timestepMap };
}
