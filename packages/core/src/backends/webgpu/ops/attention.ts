// Attention forward (online softmax) and backward (delta, dQ, dK/dV), see shaders/attention.wgsl.
import type { AttentionArgs } from '../../../backend.ts';
import { type Binding, Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { elemType, withReadableHalves } from './half.ts';
import { type Span, unitRanges, windowOfSpan } from '../windows.ts';

/** Register tile of the attention kernels: query rows (forward, dQ) or key rows (dK/dV) per
 * invocation, the block length of the streamed side, and the workgroup size. */
export interface AttentionTiling { tq: number; tk: number; bk: number; wg: number }

// lavapipe, 8 heads x 256 x 64 causal: 4 rows x 8-key blocks measured best among
// {2,4,8} x {4,8,16}; bigger tiles spill the private arrays (they are already 4-8 KiB). With the
// column-at-a-time accumulators, tq=8 is as fast at seq 256 and 1.2-1.5x faster at 512 (one run,
// `--variant tq=8`); 4 is kept for short sequences (more invocations to spread).
export const DEFAULT_ATTENTION_TILING: AttentionTiling = { tq: 4, tk: 4, bk: 8, wg: 64 };

/** Kernel parameters for units [u0, u0 + units) with the window bases of the bindings
 * q, k, v, mask, out, lse, o, gOut, delta, out2 (0 for those not bound). */
function params(a: AttentionArgs, u0: number, units: number, bases: readonly number[]): Params {
  const p = new Params().u(a.batch).u(a.heads).u(a.kvHeads).u(a.tq).u(a.tk).u(a.dim).u(a.dimV).f(a.scale)
    .u(a.causal ? 1 : 0).u(a.mask ? 1 : 0).u(a.maskBatchStride).u(a.maskHeadStride).u(u0).u(units);
  for (let i = 0; i < 10; i++) p.u(bases[i] ?? 0);
  return p;
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

// Over the binding limit: every (batch, head) slice is independent, so each kernel runs once per
// range of (b, h) slices (dK/dV: summing those query heads into their kv heads), with every
// operand bound as the window of the elements its range touches. A single slice over one
// binding cannot be split and throws.

type Operand = [name: string, s: GPUStorage, span: (u: number) => Span];

/** Unit ranges over the operands and, per range, their windows. */
function split(rt: WebGPURuntime, n: number, ops: readonly Operand[], slice: string, label: string) {
  const ranges = unitRanges(rt, n, ops.map((o) => o[1]), (u) => ops.map((o) => o[2](u)), (i, u) => {
    const [name, , span] = ops[i]!;
    const [lo, hi] = span(u);
    return `webgpu ${label}: one ${slice} slice of ${name} (${hi - lo} elements, ${(hi - lo) * 4} bytes) exceeds maxStorageBufferBindingSize ${rt.maxBinding}`;
  });
  return ranges.map((r) => ({ r, ws: ops.map((o, i) => windowOfSpan(rt, o[1], r.spans[i]!)) }));
}

/** Spans of one (b, h) slice: rows of `per` elements of [batch * heads, rowsPer] tensors. */
const bhSpan = (rowsPer: number, per: number) => (bh: number): Span => [bh * rowsPer * per, (bh + 1) * rowsPer * per];

/** The operands a range of (b, h) slices reads: q, k, v (its kv heads) and the mask rows. */
function qSideOperands(a: AttentionArgs, q: GPUStorage, k: GPUStorage, v: GPUStorage, mask: GPUStorage | undefined): Operand[] {
  const group = a.heads / a.kvHeads;
  const kv = (bh: number) => Math.floor(bh / a.heads) * a.kvHeads + Math.floor((bh % a.heads) / group);
  const m0 = (bh: number) => Math.floor(bh / a.heads) * a.maskBatchStride + (bh % a.heads) * a.maskHeadStride;
  return [
    ['q', q, bhSpan(a.tq, a.dim)],
    ['k', k, (bh) => bhSpan(a.tk, a.dim)(kv(bh))],
    ['v', v, (bh) => bhSpan(a.tk, a.dimV)(kv(bh))],
    // No mask: q stands in for the unread binding.
    mask ? ['mask', mask, (bh) => [m0(bh), m0(bh) + a.tq * a.tk]] : ['q', q, bhSpan(a.tq, a.dim)],
  ];
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
  const label = `attention ${describe(a)}`;
  const halves = { QT: elemType(q), KT: elemType(k), VT: elemType(v) };
  const ops: Operand[] = [...qSideOperands(a, q, k, v, mask), ['the output', out, bhSpan(a.tq, a.dimV)], ['lse', lse, bhSpan(a.tq, 1)]];
  const units = a.batch * a.heads;
  for (const { r, ws } of split(rt, units, ops, '(batch, head)', label)) {
    const tiles = r.count * Math.ceil(a.tq / tiling.tq);
    rt.dispatch(spec('attention', a, tiling, halves), params(a, r.start, r.count, ws.map((w) => w.base)), ws.map((w) => w.binding),
      rt.grid1D(tiles, tiling.wg), label, flops(a) * (r.count / units));
  }
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
  const label = describe(a);
  const units = a.batch * a.heads, group = a.heads / a.kvHeads;
  // Per range of (b, h) slices: delta, dQ, then dK/dV of the kv heads those query heads read
  // (a kv head whose GQA group straddles two ranges is summed by both, the second adding).
  const kvSpan = (per: number) => (bh: number) => bhSpan(a.tk, per)(Math.floor(bh / group));
  const ops: Operand[] = [...qSideOperands(a, q, k, v, mask), ['gq', gq, bhSpan(a.tq, a.dim)], ['lse', lse, bhSpan(a.tq, 1)],
    ['out', out, bhSpan(a.tq, a.dimV)], ['gOut', gOut, bhSpan(a.tq, a.dimV)], ['delta', delta, bhSpan(a.tq, 1)],
    ['gk', gk, kvSpan(a.dim)], ['gv', gv, kvSpan(a.dimV)]];
  for (const { r, ws } of split(rt, units, ops, '(batch, head)', `attentionGrad ${label}`)) {
    const b = ws.map((w) => w.binding), base = ws.map((w) => w.base);
    // bindings 1-10: q k v mask out lse o gOut delta out2; out is gq for dQ, gk for dK/dV.
    const dq = params(a, r.start, r.count, base.slice(0, 9));
    rt.dispatch(spec('attention_delta', a, tiling), dq, [null, null, null, null, null, null, b[6]!, b[7]!, b[8]!], rt.grid1D(r.count * a.tq, tiling.wg), `attentionGrad.delta ${label}`);
    rt.dispatch(spec('attention_dq', a, tiling), dq, [...b.slice(0, 6), null, b[7]!, b[8]!], rt.grid1D(r.count * Math.ceil(a.tq / tiling.tq), tiling.wg),
      `attentionGrad.dq ${label}`, 2 * flops(a) * (r.count / units));
    const dkv = params(a, r.start, r.count, [...base.slice(0, 4), base[9]!, base[5]!, 0, base[7]!, base[8]!, base[10]!]);
    const kvHeads = Math.floor((r.start + r.count - 1) / group) - Math.floor(r.start / group) + 1;
    rt.dispatch(spec('attention_dkv', a, tiling), dkv, [...b.slice(0, 4), b[9]!, b[5]!, null, b[7]!, b[8]!, b[10]!],
      rt.grid1D(kvHeads * Math.ceil(a.tk / tiling.tk), tiling.wg), `attentionGrad.dkv ${label}`, 2 * flops(a) * (r.count / units));
  }
  rt.free(delta);
  return { gq, gk, gv };
}
