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
 * `rows * rowElems` elements fit. Throws, naming `label`, when a single row does not fit. */
export function rowRanges(rt: WebGPURuntime, rows: number, rowElems: number, label: string): ElementRange[] {
  if (rows * rowElems * 4 <= rt.maxBinding) return [{ start: 0, count: rows }];
  const per = Math.floor((rt.maxBinding - rt.bindAlign) / 4 / Math.max(1, rowElems));
  if (per < 1) {
    throw new Error(`webgpu ${label}: one row of ${rowElems} elements (${rowElems * 4} bytes) exceeds maxStorageBufferBindingSize ${rt.maxBinding}`);
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
