// Attention as GEMMs on the pool. Forward, per (batch, head, block of QB query rows):
//   S = Q_blk K^T  ->  P = softmax(S*scale + mask) in place, lse  ->  O_blk = P V
// so the score matrix is never larger than QB x tk per thread. Backward, per (batch, kv head)
// (a thread owns all the query heads sharing a kv head, so dK/dV sums never race), for each
// query block: recompute P from lse, dV += P^T dO, dP = dO V^T, dS = P (dP - D) scale,
// dQ = dS K, dK += dS^T Q. With a causal mask a query block only multiplies the keys it can
// see (the first kEnd), which halves the work of a square causal attention.
import type { AttentionArgs } from '../../../backend.ts';
import type { KernelCall } from '../pool.ts';
import type { Runtime } from '../runtime.ts';
import type { Scratch } from '../scratch.ts';
import { emitAttention } from '../kernels/attention.ts';
import { gemmScratchBytes } from '../kernels/gemm.ts';
import { gemmCall, gemmKernel } from './matmul.ts';

/** Query rows per block. */
export const QUERY_BLOCK = 64;
/** Below this many flops attention runs on the calling thread. */
const PARALLEL_FLOPS = 2e6;

interface Ptrs { q: number; k: number; v: number; mask: number }

/** Keys a block of query rows [i0, i0 + rows) can see: all, or under a causal mask the first
 * i0 + rows + tk - tq (at least 1, so a fully hidden block still runs and writes zeros). */
function visibleKeys(a: AttentionArgs, i0: number, rows: number): number {
  return a.causal ? Math.max(1, Math.min(a.tk, i0 + rows + a.tk - a.tq)) : a.tk;
}

function threadsFor(rt: Runtime, a: AttentionArgs, units: number): number {
  const flops = 4 * a.batch * a.heads * a.tq * a.tk * Math.max(a.dim, a.dimV);
  return flops < PARALLEL_FLOPS ? 1 : Math.max(1, Math.min(rt.threads, units));
}

export function attentionForward(rt: Runtime, scratch: Scratch, p: Ptrs, out: number, lse: number, a: AttentionArgs, QB = QUERY_BLOCK): void {
  const gemm = gemmKernel(rt), probs = rt.kernels('attention', emitAttention).attn_probs!.id;
  const { batch, heads, kvHeads, tq, tk, dim, dimV } = a, group = heads / kvHeads;
  const blocks = Math.ceil(tq / QB), units = batch * heads * blocks;
  const threads = threadsFor(rt, a, units);
  const lists: KernelCall[][] = Array.from({ length: threads }, () => []);
  const need = gemmScratchBytes(Math.max(tk, dimV));
  for (let t = 0; t < threads; t++) {
    const gs = scratch.gemm(t, need), S = scratch.get(`attn.S.${t}`, QB * tk * 4);
    for (let u = Math.floor(units * t / threads); u < Math.floor(units * (t + 1) / threads); u++) {
      const b = Math.floor(u / (heads * blocks)), h = Math.floor(u / blocks) % heads, i0 = (u % blocks) * QB;
      const rows = Math.min(QB, tq - i0), kh = Math.floor(h / group), row0 = (b * heads + h) * tq + i0;
      const kPtr = p.k + (b * kvHeads + kh) * tk * dim * 4, vPtr = p.v + (b * kvHeads + kh) * tk * dimV * 4;
      const maskPtr = p.mask ? p.mask + (b * a.maskBatchStride + h * a.maskHeadStride + i0 * tk) * 4 : 0;
      const kn = visibleKeys(a, i0, rows);
      lists[t]!.push(
        gemmCall(gemm, { a: p.q + row0 * dim * 4, b: kPtr, c: S, m: rows, n: kn, k: dim, rsA: dim * 4, csA: 4, rsB: 4, csB: dim * 4 }, gs),
        { fn: probs, args: [S, rows, kn, a.scale, maskPtr, tk, a.causal ? i0 + tk - tq : tk, lse + row0 * 4, 0] },
        gemmCall(gemm, { a: S, b: vPtr, c: out + row0 * dimV * 4, m: rows, n: dimV, k: kn, rsA: kn * 4, csA: 4, rsB: dimV * 4, csB: 4 }, gs),
      );
    }
  }
  rt.run(lists);
}

export interface AttentionGradPtrs extends Ptrs { out: number; lse: number; gOut: number; gq: number; gk: number; gv: number }

/** gk and gv must be zero-filled (they are accumulated); gq is overwritten. */
export function attentionBackward(rt: Runtime, scratch: Scratch, p: AttentionGradPtrs, a: AttentionArgs, QB = QUERY_BLOCK): void {
  const gemm = gemmKernel(rt), kern = rt.kernels('attention', emitAttention);
  const probs = kern.attn_probs!.id, ds = kern.attn_ds!.id;
  const { batch, heads, kvHeads, tq, tk, dim, dimV } = a, group = heads / kvHeads;
  const blocks = Math.ceil(tq / QB), units = batch * kvHeads;
  const threads = threadsFor(rt, a, units);
  const lists: KernelCall[][] = Array.from({ length: threads }, () => []);
  const need = gemmScratchBytes(Math.max(tk, dim, dimV));
  for (let t = 0; t < threads; t++) {
    const gs = scratch.gemm(t, need), P = scratch.get(`attn.S.${t}`, QB * tk * 4), dP = scratch.get(`attn.dP.${t}`, QB * tk * 4);
    for (let u = Math.floor(units * t / threads); u < Math.floor(units * (t + 1) / threads); u++) {
      const b = Math.floor(u / kvHeads), kh = u % kvHeads;
      const kOff = (b * kvHeads + kh) * tk, kPtr = p.k + kOff * dim * 4, vPtr = p.v + kOff * dimV * 4;
      const gkPtr = p.gk + kOff * dim * 4, gvPtr = p.gv + kOff * dimV * 4;
      for (let h = kh * group; h < (kh + 1) * group; h++) for (let i0 = 0; i0 < tq; i0 += QB) {
        const rows = Math.min(QB, tq - i0), row0 = (b * heads + h) * tq + i0;
        const qPtr = p.q + row0 * dim * 4, goPtr = p.gOut + row0 * dimV * 4;
        const maskPtr = p.mask ? p.mask + (b * a.maskBatchStride + h * a.maskHeadStride + i0 * tk) * 4 : 0;
        const kn = visibleKeys(a, i0, rows);
        lists[t]!.push(
          gemmCall(gemm, { a: qPtr, b: kPtr, c: P, m: rows, n: kn, k: dim, rsA: dim * 4, csA: 4, rsB: 4, csB: dim * 4 }, gs),
          { fn: probs, args: [P, rows, kn, a.scale, maskPtr, tk, a.causal ? i0 + tk - tq : tk, p.lse + row0 * 4, 1] },
          gemmCall(gemm, { a: P, b: goPtr, c: gvPtr, m: kn, n: dimV, k: rows, rsA: 4, csA: kn * 4, rsB: dimV * 4, csB: 4, accumulate: true }, gs),
          gemmCall(gemm, { a: goPtr, b: vPtr, c: dP, m: rows, n: kn, k: dimV, rsA: dimV * 4, csA: 4, rsB: 4, csB: dimV * 4 }, gs),
          { fn: ds, args: [P, dP, goPtr, p.out + row0 * dimV * 4, rows, kn, dimV, a.scale] },
          gemmCall(gemm, { a: dP, b: kPtr, c: p.gq + row0 * dim * 4, m: rows, n: dim, k: kn, rsA: kn * 4, csA: 4, rsB: dim * 4, csB: 4 }, gs),
          gemmCall(gemm, { a: dP, b: qPtr, c: gkPtr, m: kn, n: dim, k: rows, rsA: 4, csA: kn * 4, rsB: dim * 4, csB: 4, accumulate: true }, gs),
        );
      }
    }
  }
  rt.run(lists);
}
