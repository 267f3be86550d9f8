// conv2d and its gradients as im2col + GEMM. The forward and the weight gradient take a group
// of G images at once, with one col matrix [C*KH*KW, G*OH*OW] (image n's columns at n*OH*OW):
//   forward:     col = im2col(x[group]);  Y = W [O, CKK] col + bias (per row) -> [O, G, OH*OW],
//                permuted to y[group] [G, O, OH*OW] (G > 1)
//   grad weight: col = im2col(x[group]);  gW (+)= gy[group] permuted to [O, G*OH*OW] times col^T
// so each is one GEMM with G*OH*OW columns (or terms): the small convs of the step (the VAE's
// 8x8 and 16x16 maps, the patch embedding) ran at a third of the GEMM's speed one image at a
// time, packing W and a 64-column col for every image. The grad input stays per image:
//   grad input:  gcol = W^T gy[n];  gx[n] = col2im(gcol)
// im2col/col2im split channels across threads (or, for a group, images); the GEMMs split rows.
import type { Conv2dArgs } from '../../../backend.ts';
import type { KernelCall } from '../pool.ts';
import type { Runtime } from '../runtime.ts';
import type { Scratch } from '../scratch.ts';
import { emitConv } from '../kernels/conv.ts';
import { BIAS_NONE, BIAS_PER_ROW } from '../kernels/gemm.ts';
import { stridedCopy } from './layout.ts';
import { gemmCalls } from './matmul.ts';
import { splitRange } from './split.ts';

/** Largest col matrix of a group of images, in bytes. */
const GROUP_COL_BYTES = 4 << 20;

function convKernel(rt: Runtime, name: 'im2col' | 'col2im'): number {
  return rt.kernels('conv', emitConv)[name]!.id;
}

const colArgs = (x: number, col: number, c0: number, c1: number, a: Conv2dArgs, pitch: number): number[] =>
  [x, col, c0, c1, a.h, a.w, a.kh, a.kw, a.strideH, a.strideW, a.padTop, a.padLeft, a.oh, a.ow, pitch];

/** im2col or col2im of one image, channels split across threads. */
function colPass(rt: Runtime, name: 'im2col' | 'col2im', x: number, col: number, a: Conv2dArgs): void {
  const fn = convKernel(rt, name), per = a.kh * a.kw * a.oh * a.ow;
  rt.run(splitRange(a.c, rt.threads, Math.ceil((1 << 15) / Math.max(1, per)), (c0, c1) => ({ fn, args: colArgs(x, col, c0, c1, a, a.oh * a.ow) })));
}

/** im2col of images [n0, n0 + g) into one col [CKK, g*OH*OW]; one image alone splits its channels. */
function groupIm2col(rt: Runtime, x: number, col: number, a: Conv2dArgs, n0: number, g: number): void {
  if (g === 1) return colPass(rt, 'im2col', x + n0 * a.c * a.h * a.w * 4, col, a);
  // Whole images per thread: thread t takes images [g t / T, g (t + 1) / T).
  const fn = convKernel(rt, 'im2col'), hw = a.oh * a.ow, threads = Math.min(rt.threads, g);
  rt.run(Array.from({ length: threads }, (_, t): KernelCall[] => {
    const calls: KernelCall[] = [];
    for (let i = Math.floor(g * t / threads); i < Math.floor(g * (t + 1) / threads); i++) {
      calls.push({ fn, args: colArgs(x + (n0 + i) * a.c * a.h * a.w * 4, col + i * hw * 4, 0, a.c, a, g * hw) });
    }
    return calls;
  }));
}

/** Images per group: as many as keep the col matrix within GROUP_COL_BYTES (at least 1). */
function groupSize(a: Conv2dArgs): number {
  return Math.max(1, Math.min(a.n, Math.floor(GROUP_COL_BYTES / (a.c * a.kh * a.kw * a.oh * a.ow * 4))));
}

export function conv2dForward(rt: Runtime, scratch: Scratch, x: number, w: number, bias: number, y: number, a: Conv2dArgs): void {
  const ckk = a.c * a.kh * a.kw, hw = a.oh * a.ow, G = groupSize(a);
  const col = scratch.get('conv.col', ckk * G * hw * 4), out = G > 1 ? scratch.get('conv.out', a.o * G * hw * 4) : 0;
  for (let n0 = 0; n0 < a.n; n0 += G) {
    const g = Math.min(G, a.n - n0), dst = y + n0 * a.o * hw * 4;
    groupIm2col(rt, x, col, a, n0, g);
    rt.run(gemmCalls(rt, scratch, { batch: 1, m: a.o, n: g * hw, k: ckk, a: w, aStride: 0, b: col, bStride: 0, c: g > 1 ? out : dst, cStride: 0,
      rsA: ckk * 4, csA: 4, rsB: g * hw * 4, csB: 4, bias, biasMode: bias ? BIAS_PER_ROW : BIAS_NONE }));
    // [O, g, OH*OW] -> [g, O, OH*OW]
    if (g > 1) stridedCopy(rt, scratch, false, out, dst, { shape: [g, a.o, hw], strides: [hw, g * hw, 1], offset: 0 });
  }
}

export function conv2dGradInput(rt: Runtime, scratch: Scratch, gy: number, w: number, gx: number, a: Conv2dArgs): void {
  const ckk = a.c * a.kh * a.kw, hw = a.oh * a.ow, col = scratch.get('conv.col', ckk * hw * 4);
  for (let n = 0; n < a.n; n++) {
    rt.run(gemmCalls(rt, scratch, { batch: 1, m: ckk, n: hw, k: a.o, a: w, aStride: 0, b: gy + n * a.o * hw * 4, bStride: 0, c: col, cStride: 0,
      rsA: 4, csA: ckk * 4, rsB: hw * 4, csB: 4, bias: 0, biasMode: BIAS_NONE }));
    colPass(rt, 'col2im', gx + n * a.c * a.h * a.w * 4, col, a);
  }
}

export function conv2dGradWeight(rt: Runtime, scratch: Scratch, x: number, gy: number, gw: number, a: Conv2dArgs): void {
  const ckk = a.c * a.kh * a.kw, hw = a.oh * a.ow, G = groupSize(a);
  const col = scratch.get('conv.col', ckk * G * hw * 4), gyT = G > 1 ? scratch.get('conv.out', a.o * G * hw * 4) : 0;
  for (let n0 = 0; n0 < a.n; n0 += G) {
    const g = Math.min(G, a.n - n0), src = gy + n0 * a.o * hw * 4;
    groupIm2col(rt, x, col, a, n0, g);
    // gy[group] [g, O, OH*OW] -> [O, g*OH*OW], the GEMM's A
    if (g > 1) stridedCopy(rt, scratch, false, src, gyT, { shape: [a.o, g, hw], strides: [hw, a.o * hw, 1], offset: 0 });
    rt.run(gemmCalls(rt, scratch, { batch: 1, m: a.o, n: ckk, k: g * hw, a: g > 1 ? gyT : src, aStride: 0, b: col, bStride: 0, c: gw, cStride: 0,
      rsA: g * hw * 4, csA: 4, rsB: 4, csB: g * hw * 4, bias: 0, biasMode: BIAS_NONE, accumulate: n0 > 0 }));
  }
}
