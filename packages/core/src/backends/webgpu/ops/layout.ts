// Strided gather/scatter (layout changes are explicit copies).
import type { StridedView } from '../../../backend.ts';
import { Params, type WebGPURuntime, workOfBytes } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { windowOf } from '../windows.ts';
import { paddedShape } from './elementwise.ts';

const WG = 256;

function viewParams(n: number, shape: readonly number[], strides: readonly number[], offset: number, lin: number): Params {
  const p = new Params().u(n).i(offset).u(lin).u(shape.length);
  for (const d of paddedShape(shape)) p.u(d);
  const pad = 8 - strides.length;
  for (let d = 0; d < 8; d++) p.i(d < pad ? 0 : strides[d - pad]!);
  return p;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

interface ViewPart {
  /** Elements [start, start + count) of the contiguous side. */
  start: number; count: number;
  shape: number[]; strides: number[];
  /** First element of the strided side this part touches, and how many past it. */
  lo: number; span: number;
  /** The view offset of the part (absolute, before subtracting a window base). */
  offset: number;
}

/** Splits a strided view into parts over its outermost (merged) dim so that both the
 * contiguous range and the strided side's span of each part fit one binding window (dims
 * before the split one are walked index by index). One part when both sides fit whole. */
function viewParts(rt: WebGPURuntime, strided: GPUStorage, contiguous: GPUStorage, view: StridedView): ViewPart[] {
  // Drop size-1 dims and merge dims walked contiguously (outer stride == inner stride * size).
  const dims: { n: number; s: number }[] = [];
  for (let d = 0; d < view.shape.length; d++) {
    const n = view.shape[d]!, s = view.strides[d]!;
    if (n === 1) continue;
    const prev = dims.at(-1);
    if (prev && prev.s === s * n) { prev.n *= n; prev.s = s; continue; }
    dims.push({ n, s });
  }
  const span = (ds: readonly { n: number; s: number }[]) => {
    let lo = 0, hi = 0;
    for (const { n, s } of ds) { const e = (n - 1) * s; if (e < 0) lo += e; else hi += e; }
    return { lo, hi };
  };
  const total = numel(view.shape);
  const whole = span(dims);
  const all: ViewPart = {
    start: 0, count: total, shape: dims.map((d) => d.n), strides: dims.map((d) => d.s),
    lo: view.offset + whole.lo, span: whole.hi - whole.lo + 1, offset: view.offset,
  };
  const limit = Math.floor((rt.maxBinding - rt.bindAlign) / 4) - 4;
  const fitsWhole = (strided.bytes <= rt.maxBinding || all.span <= limit) && (contiguous.bytes <= rt.maxBinding || total <= limit);
  if (dims.length === 0 || fitsWhole) return [all];
  // Split the first dim whose inner slices fit; dims before it are walked one index at a time.
  const parts: ViewPart[] = [];
  const split = (i: number, offset: number, start: number): void => {
    const d0 = dims[i]!, rest = dims.slice(i + 1);
    const innerN = numel(rest.map((d) => d.n));
    const inner = span(rest);
    const innerSpan = inner.hi - inner.lo + 1;
    if (innerSpan > limit || innerN > limit) {
      for (let a = 0; a < d0.n; a++) split(i + 1, offset + a * d0.s, start + a * innerN);
      return;
    }
    const bySrc = d0.s === 0 ? d0.n : Math.floor((limit - innerSpan) / Math.abs(d0.s)) + 1;
    const per = Math.max(1, Math.min(d0.n, bySrc, Math.floor(limit / innerN)));
    for (let a = 0; a < d0.n; a += per) {
      const c = Math.min(per, d0.n - a);
      const off = offset + a * d0.s;
      const lo = off + Math.min(0, (c - 1) * d0.s) + inner.lo;
      const hi = off + Math.max(0, (c - 1) * d0.s) + inner.hi;
      parts.push({ start: start + a * innerN, count: c * innerN, shape: [c, ...rest.map((d) => d.n)], strides: [d0.s, ...rest.map((d) => d.s)], lo, span: hi - lo + 1, offset: off });
    }
  };
  split(0, view.offset, 0);
  return parts;
}

/** 4 when a part can be copied as vec4u (see strided.wgsl): innermost dim contiguous with a size
 * divisible by 4, outer strides, the strided-side offset and the contiguous start 4-aligned, and
 * enough vec4s to fill 16 workgroups (smaller copies keep every lane of a software adapter busy
 * as words); else 1. `offset` and `start` are relative to their windows. */
export function vectorWidth(shape: readonly number[], strides: readonly number[], offset: number, start: number): 1 | 4 {
  const r = shape.length;
  if (r === 0 || strides[r - 1] !== 1 || shape[r - 1]! % 4 !== 0) return 1;
  if (offset % 4 !== 0 || start % 4 !== 0 || numel(shape) < 16 * WG * 4) return 1;
  for (let d = 0; d < r - 1; d++) if (strides[d]! % 4 !== 0) return 1;
  return 4;
}

function copySpec(entry: 'gather' | 'scatter', vec: 1 | 4) {
  return { file: 'strided', entry, overrides: { WG }, ...(vec === 4 ? { subst: { W: 'vec4u', VEC: '4u' } } : {}) };
}

export function gatherStrided(rt: WebGPURuntime, x: GPUStorage, view: StridedView): GPUStorage {
  const n = numel(view.shape);
  const out = rt.alloc(n, x.dtype);
  if (n === 0) return out;
  const label = `gatherStrided[${view.shape}] strides [${view.strides}] +${view.offset}`;
  for (const part of viewParts(rt, x, out, view)) {
    const xw = windowOf(rt, x, part.lo, part.span), ow = windowOf(rt, out, part.start, part.count);
    const vec = vectorWidth(part.shape, part.strides, part.offset - xw.base, part.start - ow.base);
    rt.dispatch(copySpec('gather', vec), viewParams(part.count / vec, part.shape, part.strides, part.offset - xw.base, part.start - ow.base),
      [xw.binding, ow.binding], rt.grid1D(part.count / vec, WG), label, workOfBytes(8 * part.count));
  }
  return out;
}

export function scatterStridedInto(rt: WebGPURuntime, dst: GPUStorage, view: StridedView, src: GPUStorage): void {
  const n = numel(view.shape);
  if (n === 0) return;
  const label = `scatterStridedInto[${view.shape}] strides [${view.strides}] +${view.offset}`;
  for (const part of viewParts(rt, dst, src, view)) {
    const dw = windowOf(rt, dst, part.lo, part.span), sw = windowOf(rt, src, part.start, part.count);
    const vec = vectorWidth(part.shape, part.strides, part.offset - dw.base, part.start - sw.base);
    rt.dispatch(copySpec('scatter', vec), viewParams(part.count / vec, part.shape, part.strides, part.offset - dw.base, part.start - sw.base),
      [sw.binding, dw.binding], rt.grid1D(part.count / vec, WG), label, workOfBytes(8 * part.count));
  }
}
