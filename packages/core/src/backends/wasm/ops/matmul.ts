// Drives the GEMM kernel for Backend.matmul: splits the work across threads (along the batch
// when there are at least as many matrices as threads, else along M in multiples of the
// micro-kernel's rows or, when B is the larger operand, along N in multiples of its columns),
// gives each thread its packing scratch, and queues one call per matrix per thread. Small
// products run on the calling thread: waking workers costs more. Why N: every thread packs
// all of B for its rows (and all of A for its columns), so a row split of a wide, short product
// (a convolution's [O, C*K*K] x [C*K*K, images*OH*OW]) packs the big operand once per thread.
// Each element of C sums its k terms in the same order whichever way it is split.
// A single row times a transposed B (decoding's x W^T) takes the unpacked gemv kernel instead.
import type { KernelCall } from '../pool.ts';
import type { Runtime } from '../runtime.ts';
import { BIAS_NONE, BIAS_PER_ROW, DEFAULT_BLOCKING, emitGemm, gemmScratchBytes, MR, NR, type GemmBlocking } from '../kernels/gemm.ts';
import type { Scratch } from '../scratch.ts';

/** Below this many flops a product runs on one thread. */
const PARALLEL_FLOPS = 2e6;

export interface GemmProblem {
  batch: number; m: number; n: number; k: number;
  /** Byte addresses of matrix 0 and per-matrix byte strides (0 reuses one operand). */
  a: number; aStride: number; b: number; bStride: number; c: number; cStride: number;
  /** Byte (row, column) strides of A [m,k] and B [k,n] as stored. */
  rsA: number; csA: number; rsB: number; csB: number;
  bias: number; biasMode: number;
  /** Add into C instead of overwriting it. */
  accumulate?: boolean;
  /** Activation epilogue code (kernels/gemm.ts actCode); 0 or absent for none. */
  act?: number;
}

export function gemmKernel(rt: Runtime, b: GemmBlocking = DEFAULT_BLOCKING): number {
  return rt.kernels(`gemm${rt.opts.relaxedSimd ? '-relaxed' : ''}-${b.kc}-${b.mc}-${b.nc}`, (m) => emitGemm(m, rt.opts.relaxedSimd, b)).gemm!.id;
}

/** The calls of one thread computing rows m0..m1, columns n0..n1 of matrices b0..b1. */
function threadCalls(fn: number, p: GemmProblem, s: { packA: number; packB: number; tile: number }, b0: number, b1: number, m0: number, m1: number, n0: number, n1: number): KernelCall[] {
  const calls: KernelCall[] = [];
  for (let bi = b0; bi < b1; bi++) {
    calls.push({ fn, args: [p.a + bi * p.aStride, p.b + bi * p.bStride, p.c + bi * p.cStride, p.bias, p.biasMode, p.n, p.k,
      p.rsA, p.csA, p.rsB, p.csB, m0, m1, n0, n1, s.packA, s.packB, s.tile, p.accumulate ? 1 : 0, p.act ?? 0] });
  }
  return calls;
}

/** One row times a transposed B with contiguous rows (x W^T at decoding): the gemv kernel, no
 * packing; rows of the output split across threads above PARALLEL_FLOPS. */
function gemvCalls(rt: Runtime, p: GemmProblem, maxThreads: number): KernelCall[][] {
  const fn = rt.kernels(`gemm${rt.opts.relaxedSimd ? '-relaxed' : ''}-${DEFAULT_BLOCKING.kc}-${DEFAULT_BLOCKING.mc}-${DEFAULT_BLOCKING.nc}`, (m) => emitGemm(m, rt.opts.relaxedSimd, DEFAULT_BLOCKING)).gemv!.id;
  const threads = 2 * p.batch * p.n * p.k < PARALLEL_FLOPS ? 1 : Math.min(maxThreads, Math.ceil(p.n / 8));
  const lists: KernelCall[][] = Array.from({ length: threads }, () => []);
  for (let t = 0; t < threads; t++) {
    const j0 = Math.floor(p.n * t / threads), j1 = Math.floor(p.n * (t + 1) / threads);
    for (let bi = 0; bi < p.batch; bi++) {
      lists[t]!.push({ fn, args: [p.a + bi * p.aStride, p.b + bi * p.bStride, p.c + bi * p.cStride, p.bias, p.biasMode, p.k, j0, j1, p.act ?? 0] });
    }
  }
  return lists;
}

/** Queues (or runs) a whole GEMM problem. k must be > 0 (the caller fills C when k = 0). */
export function gemmCalls(rt: Runtime, scratch: Scratch, p: GemmProblem, maxThreads = rt.threads, blocking = DEFAULT_BLOCKING): KernelCall[][] {
  if (p.m === 1 && p.csA === 4 && p.rsB === 4 && p.csB === p.k * 4 && !p.accumulate && p.biasMode !== BIAS_PER_ROW && blocking === DEFAULT_BLOCKING) {
    return gemvCalls(rt, p, maxThreads);
  }
  const fn = gemmKernel(rt, blocking);
  const flops = 2 * p.batch * p.m * p.n * p.k;
  // Split along N when B (k x n, packed by every thread of a row split) outweighs A (m x k).
  const alongN = p.batch < maxThreads && p.n > p.m;
  const parts = alongN ? Math.ceil(p.n / NR) : Math.max(p.batch, Math.ceil(p.m / MR));
  const threads = flops < PARALLEL_FLOPS ? 1 : Math.min(maxThreads, parts);
  const need = gemmScratchBytes(p.n, blocking);
  const lists: KernelCall[][] = [];
  for (let t = 0; t < threads; t++) {
    const s = scratch.gemm(t, need);
    if (p.batch >= threads) {
      const b0 = Math.floor(p.batch * t / threads), b1 = Math.floor(p.batch * (t + 1) / threads);
      lists.push(threadCalls(fn, p, s, b0, b1, 0, p.m, 0, p.n));
    } else if (alongN) {
      const chunk = Math.ceil(p.n / threads / NR) * NR;
      const n0 = Math.min(p.n, t * chunk), n1 = Math.min(p.n, n0 + chunk);
      lists.push(threadCalls(fn, p, s, 0, p.batch, 0, p.m, n0, n1));
    } else {
      const chunk = Math.ceil(p.m / threads / MR) * MR;
      const m0 = Math.min(p.m, t * chunk), m1 = Math.min(p.m, m0 + chunk);
      lists.push(threadCalls(fn, p, s, 0, p.batch, m0, m1, 0, p.n));
    }
  }
  return lists;
}

export { BIAS_NONE };

/** One matrix product C (+)= A B on one thread, for drivers that queue their own calls. */
export interface GemmCall {
  a: number; b: number; c: number; m: number; n: number; k: number;
  rsA: number; csA: number; rsB: number; csB: number; accumulate?: boolean;
}
export function gemmCall(fn: number, g: GemmCall, s: { packA: number; packB: number; tile: number }): KernelCall {
  return { fn, args: [g.a, g.b, g.c, 0, BIAS_NONE, g.n, g.k, g.rsA, g.csA, g.rsB, g.csB, 0, g.m, 0, g.n, s.packA, s.packB, s.tile, g.accumulate ? 1 : 0, 0] };
}
