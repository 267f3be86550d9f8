// The CPU reference kernels the wasm backend falls back to, run directly on typed-array views
// of the shared memory (ops or cases without a native kernel: see docs/wasm.md). rope lives
// inside CpuBackend.rope, so its loop is repeated here verbatim (keep it in sync).
export { attention, attentionGrad } from '../cpu/attention.ts';
export { conv2d, conv2dGradInput, conv2dGradWeight } from '../cpu/conv2d.ts';
export { binary, unary, unaryGrad, where } from '../cpu/elementwise.ts';
export { indexAdd, indexSelect, takeAlongAxis, takeAlongAxisGrad } from '../cpu/indexing.ts';
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
