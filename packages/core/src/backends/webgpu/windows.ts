// Splitting work over tensors larger than maxStorageBufferBindingSize.
//
// A GPUBuffer may be larger than one binding (maxBufferSize is 4 GiB here, bindings 128 MiB),
// so a huge tensor is processed in several dispatches, each binding an aligned byte window of
// it. Kernels index globally and subtract the window's first element ("base").
import type { Binding, WebGPURuntime } from './runtime.ts';
import type { GPUStorage } from './storage.ts';

export interface ElementRange { start: number; count: number }

/** Element ranges covering [0, n), each small enough that a window of it fits one binding
 * (sized for 4-byte elements, so they fit float16 storages too; starts are even). */
export function elementRanges(rt: WebGPURuntime, n: number): ElementRange[] {
  if (n * 4 <= rt.maxBinding) return [{ start: 0, count: n }];
  const alignElems = rt.bindAlign / 4;
  // Leave room for the window starting up to one alignment before the range.
  const per = Math.floor((rt.maxBinding - rt.bindAlign) / 4 / alignElems) * alignElems;
  const out: ElementRange[] = [];
  for (let start = 0; start < n; start += per) out.push({ start, count: Math.min(per, n - start) });
  return out;
}

/** The binding for elements [start, start + count) of s, and the element index it starts at.
 * `force`: a window even when s fits whole, so storages windowed at the same start share one
 * base (the base depends on start only). */
export function windowOf(rt: WebGPURuntime, s: GPUStorage, start: number, count: number, force = false): { binding: Binding; base: number } {
  const eb = s.elemBytes; // the base is in elements of s (halves for float16)
  if (s.bytes <= rt.maxBinding && (!force || start * eb < rt.bindAlign)) return { binding: s, base: 0 };
  const offset = Math.floor((start * eb) / rt.bindAlign) * rt.bindAlign;
  const end = Math.min(s.capacity, Math.ceil(((start + count) * eb) / 16) * 16);
  const size = Math.max(16, end - offset);
  if (size > rt.maxBinding) throw new Error(`webgpu: window of ${count} elements does not fit one binding`);
  return { binding: { s, offset, size }, base: offset / eb };
}

/** True when every element of s fits one binding. */
export function fitsBinding(rt: WebGPURuntime, s: GPUStorage): boolean {
  return s.bytes <= rt.maxBinding;
}

/** Ranges of rows (each `rowElems` elements) whose windows fit one binding: one range when
 * `rows * rowElems` elements fit. Throws, naming `label` (and `tensor`), when a single row does not fit. */
export function rowRanges(rt: WebGPURuntime, rows: number, rowElems: number, label: string, tensor = ''): ElementRange[] {
  if (rows * rowElems * 4 <= rt.maxBinding) return [{ start: 0, count: rows }];
  const per = Math.floor((rt.maxBinding - rt.bindAlign) / 4 / Math.max(1, rowElems));
  if (per < 1) {
    throw new Error(`webgpu ${label}: one row of ${tensor ? `${tensor}, ` : ''}${rowElems} elements (${rowElems * 4} bytes) exceeds maxStorageBufferBindingSize ${rt.maxBinding}`);
  }
  const out: ElementRange[] = [];
  for (let start = 0; start < rows; start += per) out.push({ start, count: Math.min(per, rows - start) });
  return out;
}

/** Throws unless s fits one binding (per-row side operands of row-split kernels). */
export function requireFits(rt: WebGPURuntime, s: GPUStorage, label: string, what: string): void {
  if (s.bytes > rt.maxBinding) {
    throw new Error(`webgpu ${label}: the ${s.bytes}-byte ${what} operand exceeds maxStorageBufferBindingSize ${rt.maxBinding}`);
  }
}

/** True when elements [start, end) of a storage fit one window (aligned start, 16-byte end). */
export function windowFits(rt: WebGPURuntime, start: number, end: number): boolean {
  const offset = Math.floor((start * 4) / rt.bindAlign) * rt.bindAlign;
  return Math.max(16, Math.ceil((end * 4) / 16) * 16 - offset) <= rt.maxBinding;
}

/** Elements [start, end) of one operand. */
export type Span = readonly [number, number];

/** A range of work units and, per operand, the hull of the elements it touches. */
export interface UnitRange extends ElementRange { spans: Span[] }

/** Greedy ranges of work units [0, n) (rows, images, (batch, head) slices) such that, for every
 * operand that does not fit one binding whole, the elements the range touches fit one window.
 * `spans(u)` gives each operand's span for unit u (a range's span is their hull, so units may
 * touch overlapping or repeated spans, e.g. GQA's shared kv heads). `tooBig(i, u)` is the error
 * message when unit u alone does not fit operand i. One range when every operand fits whole. */
export function unitRanges(rt: WebGPURuntime, n: number, operands: readonly GPUStorage[], spans: (u: number) => readonly Span[],
  tooBig: (operand: number, unit: number) => string): UnitRange[] {
  const split = operands.map((s) => !fitsBinding(rt, s));
  if (n === 0 || !split.includes(true)) return [{ start: 0, count: n, spans: operands.map((s) => [0, s.size] as const) }];
  const out: UnitRange[] = [];
  let start = 0;
  let hull: [number, number][] = [];
  for (let u = 0; u < n; u++) {
    const sp = spans(u);
    const next = sp.map((s, i): [number, number] => (u === start ? [s[0], s[1]] : [Math.min(hull[i]![0], s[0]), Math.max(hull[i]![1], s[1])]));
    if (next.every((h, i) => !split[i] || windowFits(rt, h[0], h[1]))) { hull = next; continue; }
    if (u === start) throw new Error(tooBig(sp.findIndex((s, i) => split[i] && !windowFits(rt, s[0], s[1])), u));
    out.push({ start, count: u - start, spans: hull });
    start = u;
    u--; // u starts the next range
  }
  out.push({ start, count: n - start, spans: hull });
  return out;
}

/** The window of s covering `span` (see windowOf). */
export function windowOfSpan(rt: WebGPURuntime, s: GPUStorage, span: Span): { binding: Binding; base: number } {
  return windowOf(rt, s, span[0], Math.max(0, span[1] - span[0]));
}

/** The hull of a broadcast operand's indices over output elements [start, end): the operand is
 * read at sum(coord[d] * strides[d]) of each output's row-major coordinates in `shape` (strides
 * >= 0, 0 on broadcast dims). [start, end) is cut into blocks of one dim's range times full
 * inner dims (at most two per dim), whose extremes are their first and last elements. */
export function broadcastHull(shape: readonly number[], strides: readonly number[], start: number, end: number): Span {
  const rank = shape.length;
  const inner = new Array<number>(rank).fill(1); // elements per step of dim d
  const full = new Array<number>(rank).fill(0);  // index extent of the dims inside d
  for (let d = rank - 2; d >= 0; d--) {
    inner[d] = inner[d + 1]! * shape[d + 1]!;
    full[d] = full[d + 1]! + (shape[d + 1]! - 1) * strides[d + 1]!;
  }
  let lo = Infinity, hi = -Infinity;
  for (let s = start; s < end;) {
    let k = 0;
    while (s % inner[k]! !== 0 || inner[k]! > end - s) k++;
    let at = 0;
    for (let d = 0, rem = s; d < rank; d++) at += Math.floor(rem / inner[d]!) % shape[d]! * strides[d]!;
    const ck = Math.floor(s / inner[k]!) % shape[k]!;
    const steps = Math.min(shape[k]! - ck, Math.floor((end - s) / inner[k]!));
    lo = Math.min(lo, at);
    hi = Math.max(hi, at + (steps - 1) * strides[k]! + full[k]!);
    s += steps * inner[k]!;
  }
  return start < end ? [lo, hi + 1] : [0, 0];
}

/** An operand of an elementwise op over n outputs: full-size (read at the output index) or
 * broadcast (read at the hull `hull(start, end)` of a range). */
export interface ElementwiseOperand { s: GPUStorage; full: boolean; hull: (start: number, end: number) => Span }

/** Output ranges of an elementwise op whose operand windows all fit: elementRanges, cut further
 * (largest end by bisection) where a broadcast operand over one binding would need more. */
export function elementwiseRanges(rt: WebGPURuntime, n: number, ops: readonly ElementwiseOperand[]): UnitRange[] {
  const spansOf = (start: number, end: number): Span[] =>
    ops.map((o) => (o.full ? [start, end] : fitsBinding(rt, o.s) ? [0, o.s.size] : o.hull(start, end)));
  const fits = (sp: Span[]) => sp.every((h, i) => ops[i]!.full || fitsBinding(rt, ops[i]!.s) || windowFits(rt, h[0], h[1]));
  const out: UnitRange[] = [];
  for (const r of elementRanges(rt, n)) {
    for (let s = r.start, end = r.start + r.count; s < end;) {
      let e = end;
      if (!fits(spansOf(s, e))) {
        let good = s + 1, bad = e; // one output reads one element of each operand: always fits
        while (bad - good > 1) {
          const mid = Math.floor((good + bad) / 2);
          if (fits(spansOf(s, mid))) good = mid; else bad = mid;
        }
        e = good;
      }
      out.push({ start: s, count: e - s, spans: spansOf(s, e) });
      s = e;
    }
  }
  if (out.length === 0) out.push({ start: 0, count: 0, spans: spansOf(0, 0) });
  return out;
}
