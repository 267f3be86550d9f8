// Splitting work over tensors larger than maxStorageBufferBindingSize.
//
// A GPUBuffer may be larger than one binding (maxBufferSize is 4 GiB here, bindings 128 MiB),
// so a huge tensor is processed in several dispatches, each binding an aligned byte window of
// it. Kernels index globally and subtract the window's first element ("base").
import type { Binding, WebGPURuntime } from './runtime.ts';
import type { GPUStorage } from './storage.ts';

export interface ElementRange { start: number; count: number }

/** Element ranges covering [0, n), each small enough that a window of it fits one binding. */
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
  if (s.bytes <= rt.maxBinding && (!force || start * 4 < rt.bindAlign)) return { binding: s, base: 0 };
  const offset = Math.floor((start * 4) / rt.bindAlign) * rt.bindAlign;
  const end = Math.min(s.capacity, Math.ceil(((start + count) * 4) / 16) * 16);
  const size = Math.max(16, end - offset);
  if (size > rt.maxBinding) throw new Error(`webgpu: window of ${count} elements does not fit one binding`);
  return { binding: { s, offset, size }, base: offset / 4 };
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
