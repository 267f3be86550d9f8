// The CPU reference kernels the wasm backend falls back to, run directly on typed-array views
// of the shared memory. rope and AdamW live inside CpuBackend's methods, so their loops are
// repeated here verbatim (keep them in sync with cpu/index.ts).
import type { AdamWArgs } from '../../backend.ts';
export { attention, attentionGrad } from '../cpu/attention.ts';
export { conv2d, conv2dGradInput, conv2dGradWeight } from '../cpu/conv2d.ts';
export { binary, unary, unaryGrad, where } from '../cpu/elementwise.ts';
export { indexAdd, indexSelect, takeAlongAxis, takeAlongAxisGrad } from '../cpu/indexing.ts';
export { gatherStrided, scatterStrided } from '../cpu/layout.ts';
export { matmul } from '../cpu/matmul.ts';
export { crossEntropy, crossEntropyGrad, normalize, normalizeGrad, softmax, softmaxGrad } from '../cpu/nn.ts';
export { reduce } from '../cpu/reduce.ts';

export function rope(X: Float32Array, C: Float32Array, S: Float32Array, b: number, h: number, t: number, d: number, inverse: boolean, out: Float32Array): void {
  const half = d / 2;
  for (let bi = 0; bi < b; bi++) for (let hi = 0; hi < h; hi++) for (let ti = 0; ti < t; ti++) {
    const xo = ((bi * h + hi) * t + ti) * d, co = (bi * t + ti) * d;
    for (let i = 0; i < d; i++) {
      let r: number;
      if (!inverse) r = i < half ? -X[xo + i + half]! * S[co + i]! : X[xo + i - half]! * S[co + i]!;
      else r = i < half ? X[xo + i + half]! * S[co + i + half]! : -X[xo + i - half]! * S[co + i - half]!;
      out[xo + i] = X[xo + i]! * C[co + i]! + r;
    }
  }
}

export function adamw(p: Float32Array, g: Float32Array, M: Float32Array, V: Float32Array, a: AdamWArgs): void {
  const bc1 = 1 - Math.pow(a.beta1, a.step), bc2 = 1 - Math.pow(a.beta2, a.step);
  const stepSize = a.lr / bc1, sqrtBc2 = Math.sqrt(bc2), decay = 1 - a.lr * a.weightDecay;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    M[i] = a.beta1 * M[i]! + (1 - a.beta1) * gi;
    V[i] = a.beta2 * V[i]! + (1 - a.beta2) * gi * gi;
    p[i] = p[i]! * decay - stepSize * M[i]! / (Math.sqrt(V[i]!) / sqrtBc2 + a.eps);
  }
}
