// Elementwise kernels: unary (+grad), broadcasting binary, where, cast, fill.
import type { BinaryOp, DifferentiableUnaryOp, DType, UnaryOp } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { broadcastHull, elementRanges, elementwiseRanges, fitsBinding, type Span, windowOf, windowOfSpan } from '../windows.ts';

const WG = 256;
const MAX_RANK = 8;

export const UNARY_CODES: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, abs: 5, tanh: 6, sigmoid: 7, silu: 8, gelu_erf: 9,
  gelu_tanh: 10, relu: 11, sin: 12, cos: 13, square: 14, reciprocal: 15, sign: 16,
};
export const BINARY_CODES: Record<BinaryOp, number> = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, max: 5, min: 6, eq: 7, ne: 8, lt: 9, le: 10, gt: 11, ge: 12,
};

export const wgslType = (d: DType): string => (d === 'int32' ? 'i32' : 'f32');

export function unary(rt: WebGPURuntime, op: UnaryOp, x: GPUStorage): GPUStorage {
  const y = rt.alloc(x.size, x.dtype);
  const spec = { file: 'unary', entry: 'unary', subst: { T: wgslType(x.dtype) }, overrides: { OP: UNARY_CODES[op], WG } };
  for (const r of elementRanges(rt, x.size)) {
    const xw = windowOf(rt, x, r.start, r.count), yw = windowOf(rt, y, r.start, r.count);
    const p = new Params().u(r.count).u(r.start).u(xw.base).u(yw.base).u(0);
    rt.dispatch(spec, p, [xw.binding, yw.binding], rt.grid1D(r.count, WG), `unary.${op}[${x.size}]`);
  }
  return y;
}

export function unaryGrad(rt: WebGPURuntime, op: DifferentiableUnaryOp, x: GPUStorage, gy: GPUStorage): GPUStorage {
  const dx = rt.alloc(x.size, 'float32');
  const spec = { file: 'unary', entry: 'unary_grad', subst: { T: 'f32' }, overrides: { OP: UNARY_CODES[op], WG } };
  for (const r of elementRanges(rt, x.size)) {
    const xw = windowOf(rt, x, r.start, r.count), yw = windowOf(rt, dx, r.start, r.count), gw = windowOf(rt, gy, r.start, r.count);
    const p = new Params().u(r.count).u(r.start).u(xw.base).u(yw.base).u(gw.base);
    rt.dispatch(spec, p, [xw.binding, yw.binding, gw.binding], rt.grid1D(r.count, WG), `unaryGrad.${op}[${x.size}]`);
  }
  return dx;
}

/** Contiguous strides of `shape` padded to MAX_RANK, 0 on broadcast dims of `outShape`. */
export function paddedBroadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const pad = MAX_RANK - outShape.length;
  const strides = new Array<number>(MAX_RANK).fill(0);
  let s = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const dim = shape[d]!;
    strides[pad + d] = dim === 1 && outShape[d] !== 1 ? 0 : s;
    s *= dim;
  }
  return strides;
}

export function paddedShape(shape: readonly number[]): number[] {
  if (shape.length > MAX_RANK) throw new Error(`webgpu: rank ${shape.length} > ${MAX_RANK} is not supported`);
  return [...new Array<number>(MAX_RANK - shape.length).fill(1), ...shape];
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Merges adjacent dims that every operand walks contiguously (and drops size-1 dims), so the
 * kernel's index walk does one u32 div/mod per remaining dim instead of eight: lavapipe runs
 * vector integer division one lane at a time, and that walk dominated elementwise ops. Same
 * shapes collapse to rank 1; a row-broadcast bias to rank 2. Results stay padded to MAX_RANK. */
export function collapseDims(outShape: readonly number[], aStrides: readonly number[], bStrides: readonly number[]) {
  const shape = paddedShape(outShape);
  const dims: { n: number; a: number; b: number }[] = [];
  for (let d = 0; d < MAX_RANK; d++) {
    if (shape[d] === 1) continue;
    const cur = { n: shape[d]!, a: aStrides[d]!, b: bStrides[d]! };
    const prev = dims.at(-1);
    // prev (outer) and cur (inner) merge when outer stride == inner stride * inner size, for both.
    if (prev && prev.a === cur.a * cur.n && prev.b === cur.b * cur.n) { prev.n *= cur.n; prev.a = cur.a; prev.b = cur.b; continue; }
    dims.push(cur);
  }
  const pad = MAX_RANK - dims.length;
  return {
    shape: [...new Array<number>(pad).fill(1), ...dims.map((d) => d.n)],
    as: [...new Array<number>(pad).fill(0), ...dims.map((d) => d.a)],
    bs: [...new Array<number>(pad).fill(0), ...dims.map((d) => d.b)],
    rank: dims.length,
  };
}

/** collapseDims per (aShape, bShape, outShape): a chain of small ops repeats a few shapes, and
 * the padded arrays were a visible share of host time and GC per op. */
const binaryLayouts = new Map<string, ReturnType<typeof collapseDims>>();
function binaryLayout(key: string, aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]): ReturnType<typeof collapseDims> {
  let l = binaryLayouts.get(key);
  if (!l) {
    if (binaryLayouts.size >= 4096) binaryLayouts.clear();
    l = collapseDims(outShape, paddedBroadcastStrides(aShape, outShape), paddedBroadcastStrides(bShape, outShape));
    binaryLayouts.set(key, l);
  }
  return l;
}

export function binary(rt: WebGPURuntime, op: BinaryOp, a: GPUStorage, aShape: readonly number[], b: GPUStorage,
  bShape: readonly number[], outShape: readonly number[], outDtype: DType): GPUStorage {
  const n = numel(outShape);
  const out = rt.alloc(n, outDtype);
  const bothInt = a.dtype === 'int32' && b.dtype === 'int32';
  const spec = {
    file: 'binary', entry: 'binary',
    subst: { A: wgslType(a.dtype), B: wgslType(b.dtype), C: bothInt ? 'i32' : 'f32', O: wgslType(outDtype) },
    overrides: { OP: BINARY_CODES[op], WG },
  };
  const dimsKey = `${aShape}x${bShape}>${outShape}`;
  const { shape, as, bs, rank } = binaryLayout(dimsKey, aShape, bShape, outShape);
  const label = `binary.${op}[${aShape}]x[${bShape}]->[${outShape}]`;
  // Output ranges; full-size operands are windowed at the range. A broadcast operand that fits
  // is bound whole; one over one binding at the hull of the indices a range reads (ranges are
  // cut where that hull would not fit, e.g. at rows of a huge bias).
  const aFull = a.size === n, bFull = b.size === n;
  const ranges = (aFull || fitsBinding(rt, a)) && (bFull || fitsBinding(rt, b))
    ? elementRanges(rt, n).map((r) => ({ ...r, spans: [aFull ? [r.start, r.start + r.count] : [0, a.size], bFull ? [r.start, r.start + r.count] : [0, b.size]] as Span[] }))
    : elementwiseRanges(rt, n, [
      { s: a, full: aFull, hull: (s, e) => broadcastHull(shape, as, s, e) },
      { s: b, full: bFull, hull: (s, e) => broadcastHull(shape, bs, s, e) },
    ]);
  for (const r of ranges) {
    const aw = windowOfSpan(rt, a, r.spans[0]!), bw = windowOfSpan(rt, b, r.spans[1]!);
    const ow = windowOf(rt, out, r.start, r.count);
    const p = new Params().u(r.count).u(r.start).u(aw.base).u(bw.base).u(ow.base).u(rank).u(0).u(0);
    for (const v of shape) p.u(v);
    for (const v of as) p.u(v);
    for (const v of bs) p.u(v);
    rt.dispatch(spec, p, [aw.binding, bw.binding, ow.binding], rt.grid1D(r.count, WG), label);
  }
  return out;
}

export function where(rt: WebGPURuntime, cond: GPUStorage, condShape: readonly number[], a: GPUStorage, aShape: readonly number[],
  b: GPUStorage, bShape: readonly number[], outShape: readonly number[]): GPUStorage {
  const n = numel(outShape);
  const out = rt.alloc(n, a.dtype);
  if (n === 0) return out;
  const spec = { file: 'where', entry: 'where_', subst: { K: wgslType(cond.dtype), T: wgslType(a.dtype) }, overrides: { WG } };
  const label = `where[${condShape}],[${aShape}],[${bShape}]->[${outShape}]`;
  // As binary: full-size operands windowed per output range, broadcast ones at their hulls.
  const shape = paddedShape(outShape);
  const strides = [condShape, aShape, bShape].map((sh) => paddedBroadcastStrides(sh, outShape));
  const ranges = elementwiseRanges(rt, n, [cond, a, b].map((s, i) => ({ s, full: s.size === n, hull: (lo: number, hi: number) => broadcastHull(shape, strides[i]!, lo, hi) })));
  for (const r of ranges) {
    const [cw, aw, bw] = [cond, a, b].map((s, i) => windowOfSpan(rt, s, r.spans[i]!)) as [Win, Win, Win];
    const ow = windowOf(rt, out, r.start, r.count);
    const p = new Params().u(r.count).u(r.start).u(cw.base).u(aw.base).u(ow.base).u(bw.base).u(0).u(0);
    for (const v of shape) p.u(v);
    for (const st of strides) for (const v of st) p.u(v);
    rt.dispatch(spec, p, [cw.binding, aw.binding, bw.binding, ow.binding], rt.grid1D(r.count, WG), label);
  }
  return out;
}

type Win = ReturnType<typeof windowOf>;

export function cast(rt: WebGPURuntime, x: GPUStorage, dtype: DType): GPUStorage {
  if (x.dtype === dtype) {
    const y = rt.alloc(x.size, dtype);
    if (x.size > 0) rt.copy(x, 0, y, 0, x.bytes);
    return y;
  }
  if (x.dtype === 'float16' || dtype === 'float16') return castHalf(rt, x, dtype);
  const y = rt.alloc(x.size, dtype);
  const spec = { file: 'cast', entry: 'convert', subst: { X: wgslType(x.dtype), Y: wgslType(dtype) }, overrides: { WG } };
  for (const r of elementRanges(rt, x.size)) {
    const xw = windowOf(rt, x, r.start, r.count), yw = windowOf(rt, y, r.start, r.count);
    const p = new Params().u(r.count).u(xw.base).u(yw.base).u(r.start);
    rt.dispatch(spec, p, [xw.binding, yw.binding], rt.grid1D(r.count, WG), `cast[${x.size}]->${dtype}`);
  }
  return y;
}

/** float32 <-> float16 (packed halves), exact in integer arithmetic (cast.wgsl). */
function castHalf(rt: WebGPURuntime, x: GPUStorage, dtype: DType): GPUStorage {
  if (x.dtype === 'int32' || dtype === 'int32') throw new TypeError(`webgpu cast: ${x.dtype} -> ${dtype} goes through float32 (the tensor layer does that)`);
  const y = rt.alloc(x.size, dtype);
  const toHalf = dtype === 'float16';
  const spec = { file: 'cast', entry: toHalf ? 'to_half' : 'from_half', subst: { X: 'f32', Y: 'f32' }, overrides: { WG } };
  for (const r of elementRanges(rt, x.size)) { // even starts: a range never splits a word
    const xw = windowOf(rt, x, r.start, r.count), yw = windowOf(rt, y, r.start, r.count);
    const p = new Params().u(r.count).u(xw.base).u(yw.base).u(r.start);
    const bindings = toHalf ? [xw.binding, null, yw.binding] : [null, yw.binding, null, xw.binding];
    rt.dispatch(spec, p, bindings, rt.grid1D(toHalf ? Math.ceil(r.count / 2) : r.count, WG), `cast[${x.size}]->${dtype}`);
  }
  return y;
}

export function fill(rt: WebGPURuntime, size: number, dtype: DType, value: number): GPUStorage {
  if (dtype === 'float16' && !Object.is(value, 0)) { // rare: fill float32, then round once
    const f = fill(rt, size, 'float32', value);
    const h = castHalf(rt, f, 'float16');
    rt.free(f);
    return h;
  }
  const y = rt.alloc(size, dtype);
  const bits = dtype === 'int32' ? new Uint32Array(new Int32Array([value]).buffer)[0]! : new Uint32Array(new Float32Array([value]).buffer)[0]!;
  if (bits === 0) { rt.clear(y); return y; }
  const spec = { file: 'cast', entry: 'fill', overrides: { WG } };
  for (const r of elementRanges(rt, size)) {
    const yw = windowOf(rt, y, r.start, r.count);
    const p = new Params().u(r.count).u(bits).u(yw.base).u(r.start);
    rt.dispatch(spec, p, [null, null, yw.binding], rt.grid1D(r.count, WG), `fill[${size}]`);
  }
  return y;
}
