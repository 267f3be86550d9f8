// conv2d and its gradients as im2col + GEMM, one image at a time:
//   forward:     col = im2col(x[n]);        y[n] = W [O, CKK] col + bias (per row)
//   grad input:  gcol = W^T gy[n];          gx[n] = col2im(gcol)
//   grad weight: col = im2col(x[n]);        gW (+)= gy[n] col^T   (accumulated over images)
// im2col/col2im split channels across threads, the GEMMs split rows (M).
import type { Conv2dArgs } from '../../../backend.ts';
import type { KernelCall } from '../pool.ts';
import type { Runtime } from '../runtime.ts';
import type { Scratch } from '../scratch.ts';
import { emitConv } from '../kernels/conv.ts';
import { BIAS_NONE, BIAS_PER_ROW } from '../kernels/gemm.ts';
import { gemmCalls } from './matmul.ts';
import { splitRange } from './split.ts';

function convKernel(rt: Runtime, name: 'im2col' | 'col2im'): number {
  return rt.kernels('conv', emitConv)[name]!.id;
}

/** Runs im2col or col2im of one image, channels split across threads. */
function colPass(rt: Runtime, name: 'im2col' | 'col2im', x: number, col: number, a: Conv2dArgs): void {
  const fn = convKernel(rt, name), per = a.kh * a.kw * a.oh * a.ow;
  const lists: KernelCall[][] = splitRange(a.c, rt.threads, Math.ceil((1 << 15) / Math.max(1, per)), (c0, c1) => ({
    fn, args: [x, col, c0, c1, a.h, a.w, a.kh, a.kw, a.strideH, a.strideW, a.padTop, a.padLeft, a.oh, a.ow],
  }));
  rt.run(lists);
}

const colBytes = (a: Conv2dArgs): number => a.c * a.kh * a.kw * a.oh * a.ow * 4;

export function conv2dForward(rt: Runtime, scratch: Scratch, x: number, w: number, bias: number, y: number, a: Conv2dArgs): void {
  const ckk = a.c * a.kh * a.kw, hw = a.oh * a.ow, col = scratch.get('conv.col', colBytes(a));
  for (let n = 0; n < a.n; n++) {
    colPass(rt, 'im2col', x + n * a.c * a.h * a.w * 4, col, a);
    rt.run(gemmCalls(rt, scratch, { batch: 1, m: a.o, n: hw, k: ckk, a: w, aStride: 0, b: col, bStride: 0, c: y + n * a.o * hw * 4, cStride: 0,
      rsA: ckk * 4, csA: 4, rsB: hw * 4, csB: 4, bias, biasMode: bias ? BIAS_PER_ROW : BIAS_NONE }));
  }
}

export function conv2dGradInput(rt: Runtime, scratch: Scratch, gy: number, w: number, gx: number, a: Conv2dArgs): void {
  const ckk = a.c * a.kh * a.kw, hw = a.oh * a.ow, col = scratch.get('conv.col', colBytes(a));
  for (let n = 0; n < a.n; n++) {
    rt.run(gemmCalls(rt, scratch, { batch: 1, m: ckk, n: hw, k: a.o, a: w, aStride: 0, b: gy + n * a.o * hw * 4, bStride: 0, c: col, cStride: 0,
      rsA: 4, csA: ckk * 4, rsB: hw * 4, csB: 4, bias: 0, biasMode: BIAS_NONE }));
    colPass(rt, 'col2im', gx + n * a.c * a.h * a.w * 4, col, a);
  }
}

export function conv2dGradWeight(rt: Runtime, scratch: Scratch, x: number, gy: number, gw: number, a: Conv2dArgs): void {
  const ckk = a.c * a.kh * a.kw, hw = a.oh * a.ow, col = scratch.get('conv.col', colBytes(a));
  for (let n = 0; n < a.n; n++) {
    colPass(rt, 'im2col', x + n * a.c * a.h * a.w * 4, col, a);
    rt.run(gemmCalls(rt, scratch, { batch: 1, m: a.o, n: ckk, k: hw, a: gy + n * a.o * hw * 4, aStride: 0, b: col, bStride: 0, c: gw, cStride: 0,
      rsA: hw * 4, csA: 4, rsB: 4, csB: hw * 4, bias: 0, biasMode: BIAS_NONE, accumulate: n > 0 }));
  }
}
