// Central finite differences against autograd. Inputs are float32 (the compute dtype), so the
// step is large-ish. The tolerance is per element: relative to that element's gradient, plus a
// small floor relative to the tensor's largest one, plus the float32 rounding noise of the
// finite difference itself (estimated from the loss's magnitude), and nothing absolute: a
// tensor of small gradients is checked as tightly as one of large gradients.
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
 * f's output shape. Element k of input i passes when
 *   |numeric - analytic| <= tol * |analytic_k| + floor * max|analytic of input i| + noise,
 * noise = 2^-20 * sum|f(x) * w| / h (float32 rounding of the two losses, divided by the step).
 * Returns a description of the worst mismatch, or null.
 */
export function gradcheck(backend: Backend, f: (...xs: Tensor[]) => Tensor, inputs: GradInput[], opts: { h?: number; tol?: number; floor?: number; seed?: number } = {}): string | null {
  const h = opts.h ?? 1e-2, tol = opts.tol ?? 2e-2, floor = opts.floor ?? 1e-3;
  return tidy(() => {
    const mk = (d: Float32Array, shape: number[], grad = false): Tensor => tensor(d, shape, { backend, requiresGrad: grad });
    const xs = inputs.map((i) => mk(i.data, i.shape, true));
    const y0 = f(...xs);
    const w = mk(randomData(y0.size, rng(opts.seed ?? 7)), [...y0.shape]);
    F.sum(F.mul(y0, w)).backward();
    const analytic = xs.map((x) => (x.grad ? (x.grad.dataSync() as Float32Array) : new Float32Array(x.size)));
    /** sum(f(xs) * w) in float64 on the host (the reduction adds no float32 noise), and sum|f * w|. */
    const loss = (datas: Float32Array[]): [number, number] => noGrad(() => tidy(() => {
      const y = f(...datas.map((d, i) => mk(d, inputs[i]!.shape)));
      const yd = y.dataSync(), wd = w.dataSync();
      let s = 0, mag = 0;
      for (let k = 0; k < yd.length; k++) { s += yd[k]! * wd[k]!; mag += Math.abs(yd[k]! * wd[k]!); }
      return [s, mag];
    }));
    let worst: string | null = null, worstRatio = 1;
    inputs.forEach((inp, i) => {
      const a = analytic[i]!;
      const maxA = Math.max(0, ...Array.from(a, Math.abs));
      for (let k = 0; k < inp.data.length; k++) {
        const plus = inputs.map((q) => q.data.slice()), minus = inputs.map((q) => q.data.slice());
        plus[i]![k]! += h;
        minus[i]![k]! -= h;
        // The float32 rounding of x +- h is the real step.
        const step = plus[i]![k]! - minus[i]![k]!;
        const [lp, mp] = loss(plus), [lm, mm] = loss(minus);
        const num = (lp - lm) / step;
        const noise = 2 ** -20 * (mp + mm) / step;
        const bound = tol * Math.abs(a[k]!) + floor * maxA + noise;
        const err = Math.abs(num - a[k]!);
        const ratio = err === 0 ? 0 : bound > 0 ? err / bound : Infinity;
        // NaN (an analytic or numeric NaN) counts as the worst.
        if (!(ratio <= worstRatio)) {
          worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
          worst = `input ${i} ${JSON.stringify(inp.shape)} element ${k}: analytic ${a[k]}, numeric ${num} (bound ${bound.toExponential(2)}: ` +
            `${tol} x |analytic| + ${floor} x max|analytic| ${maxA.toExponential(2)} + float32 noise ${noise.toExponential(2)})`;
        }
      }
    });
    for (const x of xs) x.zeroGrad();
    return worst;
  });
}
