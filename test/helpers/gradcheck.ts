// Central finite differences against autograd. Inputs are float32 (the compute dtype), so the
// step is large-ish and the tolerance is relative to the largest analytic gradient.
import { noGrad, tensor, tidy, type Backend, type Tensor } from '../../packages/core/src/index.ts';
import * as F from '../../packages/core/src/ops/index.ts';

export interface GradInput { data: Float32Array; shape: number[] }

/** A deterministic pseudo-random float in [lo, hi) stream (mulberry32), for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomData(n: number, r: () => number, lo = -1, hi = 1): Float32Array {
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

/**
 * Checks d sum(f(xs) * w) / d xs against central differences, w a fixed random weight of
 * f's output shape. Returns a description of the worst mismatch, or null.
 */
export function gradcheck(backend: Backend, f: (...xs: Tensor[]) => Tensor, inputs: GradInput[], opts: { h?: number; tol?: number; seed?: number } = {}): string | null {
  const h = opts.h ?? 1e-2, tol = opts.tol ?? 2e-2;
  return tidy(() => {
    const mk = (d: Float32Array, shape: number[], grad = false): Tensor => tensor(d, shape, { backend, requiresGrad: grad });
    const xs = inputs.map((i) => mk(i.data, i.shape, true));
    const y0 = f(...xs);
    const w = mk(randomData(y0.size, rng(opts.seed ?? 7)), [...y0.shape]);
    F.sum(F.mul(y0, w)).backward();
    const analytic = xs.map((x) => (x.grad ? (x.grad.dataSync() as Float32Array) : new Float32Array(x.size)));
    const loss = (datas: Float32Array[]): number => noGrad(() => tidy(() => {
      const y = f(...datas.map((d, i) => mk(d, inputs[i]!.shape)));
      // float64 sum on the host: the reduction itself must not add float32 noise.
      const yd = y.dataSync(), wd = w.dataSync();
      let s = 0;
      for (let k = 0; k < yd.length; k++) s += yd[k]! * wd[k]!;
      return s;
    }));
    let worst: string | null = null, worstRatio = 0;
    inputs.forEach((inp, i) => {
      const a = analytic[i]!;
      const scale = Math.max(1, ...Array.from(a, Math.abs));
      for (let k = 0; k < inp.data.length; k++) {
        const plus = inputs.map((q) => q.data.slice()), minus = inputs.map((q) => q.data.slice());
        plus[i]![k]! += h;
        minus[i]![k]! -= h;
        // The float32 rounding of x +- h is the real step.
        const num = (loss(plus) - loss(minus)) / (plus[i]![k]! - minus[i]![k]!);
        const ratio = Math.abs(num - a[k]!) / (tol * scale);
        if (!(ratio <= 1) && !(ratio <= worstRatio)) {
          worstRatio = ratio;
          worst = `input ${i} ${JSON.stringify(inp.shape)} element ${k}: analytic ${a[k]}, numeric ${num}`;
        }
      }
    });
    for (const x of xs) x.zeroGrad();
    return worst;
  });
}
