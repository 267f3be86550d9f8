// Attention forward (online softmax) and backward (delta, dQ, dK/dV), see shaders/attention.wgsl.
import type { AttentionArgs } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { elemType, withReadableHalves } from './half.ts';

/** Register tile of the attention kernels: query rows (forward, dQ) or key rows (dK/dV) per
 * invocation, the block length of the streamed side, and the workgroup size. */
export interface AttentionTiling { tq: number; tk: number; bk: number; wg: number }

// lavapipe, 8 heads x 256 x 64 causal: 4 rows x 8-key blocks measured best among
// {2,4,8} x {4,8,16}; bigger tiles spill the private arrays (they are already 4-8 KiB).
export const DEFAULT_ATTENTION_TILING: AttentionTiling = { tq: 4, tk: 4, bk: 8, wg: 64 };

function params(a: AttentionArgs): Params {
  return new Params().u(a.batch).u(a.heads).u(a.kvHeads).u(a.tq).u(a.tk).u(a.dim).u(a.dimV).f(a.scale)
    .u(a.causal ? 1 : 0).u(a.mask ? 1 : 0).u(a.maskBatchStride).u(a.maskHeadStride);
}

/** halves: the forward kernel's q/k/v element types (float16 storages read natively). */
function spec(entry: string, a: AttentionArgs, t: AttentionTiling, halves: Record<string, string> = {}) {
  // Head dims that are multiples of 8 (64, 128: the real models) are compile-time constants, so
  // loops unroll; others share a power-of-two bucket with runtime trip counts (few pipelines).
  const exact = a.dim % 8 === 0 && a.dimV % 8 === 0;
  const bucket = (d: number) => Math.max(8, 2 ** Math.ceil(Math.log2(d)));
  const d = exact ? a.dim : bucket(a.dim), dv = exact ? a.dimV : bucket(a.dimV);
  return {
    file: 'attention', entry,
    subst: { D: `${d}u`, DV: `${dv}u`, TQ: `${t.tq}u`, TK: `${t.tk}u`, BK: `${t.bk}u`, ...halves },
    overrides: { WG: t.wg, EXACT_DIMS: exact ? 1 : 0 },
  };
}

const describe = (a: AttentionArgs) =>
  `B${a.batch} H${a.heads}/${a.kvHeads} tq${a.tq} tk${a.tk} d${a.dim}/${a.dimV}${a.causal ? ' causal' : ''}${a.mask ? ' mask' : ''}`;

const flops = (a: AttentionArgs) => 2 * a.batch * a.heads * a.tq * a.tk * (a.dim + a.dimV) * (a.causal ? 0.5 : 1);

function check(a: AttentionArgs): void {
  if (a.heads % a.kvHeads !== 0) throw new Error(`webgpu attention: heads ${a.heads} not a multiple of kvHeads ${a.kvHeads}`);
  if (a.dim < 1 || a.dimV < 1) throw new Error(`webgpu attention: head dims must be >= 1 (got ${a.dim}, ${a.dimV})`);
}

export function attention(rt: WebGPURuntime, q: GPUStorage, k: GPUStorage, v: GPUStorage, mask: GPUStorage | undefined, a: AttentionArgs,
  tiling: AttentionTiling = DEFAULT_ATTENTION_TILING): { out: GPUStorage; lse: GPUStorage } {
  return withReadableHalves(rt, [q, k, v], ([q2, k2, v2]) => attentionOf(rt, q2!, k2!, v2!, mask, a, tiling));
}

function attentionOf(rt: WebGPURuntime, q: GPUStorage, k: GPUStorage, v: GPUStorage, mask: GPUStorage | undefined, a: AttentionArgs,
  tiling: AttentionTiling) {
  check(a);
  const rows = a.batch * a.heads * a.tq;
  const out = rt.alloc(rows * a.dimV, 'float32');
  const lse = rt.alloc(rows, 'float32');
  if (rows === 0) return { out, lse };
  const tiles = a.batch * a.heads * Math.ceil(a.tq / tiling.tq);
  const halves = { QT: elemType(q), KT: elemType(k), VT: elemType(v) };
  rt.dispatch(spec('attention', a, tiling, halves), params(a), [q, k, v, mask ?? q, out, lse], rt.grid1D(tiles, tiling.wg), `attention ${describe(a)}`, flops(a));
  return { out, lse };
}

export function attentionGrad(rt: WebGPURuntime, q: GPUStorage, k: GPUStorage, v: GPUStorage, mask: GPUStorage | undefined,
  out: GPUStorage, lse: GPUStorage, gOut: GPUStorage, a: AttentionArgs, tiling: AttentionTiling = DEFAULT_ATTENTION_TILING) {
  check(a);
  const rows = a.batch * a.heads * a.tq;
  const keys = a.batch * a.kvHeads * a.tk;
  const gq = rt.alloc(rows * a.dim, 'float32');
  const gk = rt.alloc(keys * a.dim, 'float32');
  const gv = rt.alloc(keys * a.dimV, 'float32');
  if (rows === 0 || keys === 0) {
    rt.clear(gq); rt.clear(gk); rt.clear(gv);
    return { gq, gk, gv };
  }
  const delta = rt.alloc(rows, 'float32');
  const p = params(a);
  const m = mask ?? q;
  const label = describe(a);
  const qTiles = a.batch * a.heads * Math.ceil(a.tq / tiling.tq);
  const kTiles = a.batch * a.kvHeads * Math.ceil(a.tk / tiling.tk);
  rt.dispatch(spec('attention_delta', a, tiling), p, [null, null, null, null, null, null, out, gOut, delta], rt.grid1D(rows, tiling.wg), `attentionGrad.delta ${label}`);
  rt.dispatch(spec('attention_dq', a, tiling), p, [q, k, v, m, gq, lse, null, gOut, delta], rt.grid1D(qTiles, tiling.wg), `attentionGrad.dq ${label}`, 2 * flops(a));
  rt.dispatch(spec('attention_dkv', a, tiling), p, [q, k, v, m, gk, lse, null, gOut, delta, gv], rt.grid1D(kTiles, tiling.wg), `attentionGrad.dkv ${label}`, 2 * flops(a));
  rt.free(delta);
  return { gq, gk, gv };
}
