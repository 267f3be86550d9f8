// Creating tensors: from JS data, constants, ranges, and seeded random draws.
import type { Backend, DType } from '../backend.ts';
import { getBackend } from '../engine.ts';
import { checkShape, shapeStr, sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { encodeF16 } from '../half.ts';
import { wrap } from './record.ts';

export type NestedArray = number | readonly NestedArray[];

export interface CreateOptions { dtype?: DType; backend?: Backend; requiresGrad?: boolean }

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) { shape.push(cur.length); cur = cur[0] as NestedArray; }
  return shape;
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad_(true);
  return t;
}

/**
 * A tensor from nested arrays, a flat array plus shape, or a typed array. Float32Array and
 * plain numbers give float32, Int32Array gives int32, unless dtype says otherwise. (Float16
 * bit patterns: fromF16Bits.)
 */
export function tensor(data: NestedArray | Float32Array | Int32Array | readonly number[], shape?: readonly number[], opts: CreateOptions = {}): Tensor {
  const backend = opts.backend ?? getBackend();
  let flat: number[] | Float32Array | Int32Array;
  let inferred: number[];
  if (data instanceof Float32Array || data instanceof Int32Array) { flat = data; inferred = [data.length]; }
  else if (typeof data === 'number') { flat = [data]; inferred = []; }
  else { inferred = inferShape(data as NestedArray); flat = (data as unknown[]).flat(Infinity) as number[]; }
  const s = shape ?? inferred;
  checkShape(s, 'tensor');
  if (sizeOf(s) !== flat.length) throw new Error(`tensor: ${flat.length} values do not fill shape ${shapeStr(s)}${shape ? '' : ' (ragged nested array?)'}`);
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  // float16 rounds the values to nearest even (overflow to inf, as torch.tensor(..., dtype=float16)).
  const arr = dtype === 'float32' ? Float32Array.from(flat) : dtype === 'float16' ? encodeF16(Float32Array.from(flat)) : Int32Array.from(flat, (v) => Math.trunc(v));
  return finish(wrap(backend, backend.fromArray(arr), s), opts);
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  checkShape(shape, 'full');
  const backend = opts.backend ?? getBackend();
  return finish(wrap(backend, backend.fill(sizeOf(shape), opts.dtype ?? 'float32', value), shape), opts);
}
export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, 1, opts);
export const zerosLike = (t: Tensor, opts: CreateOptions = {}): Tensor => full(t.shape, 0, { dtype: t.dtype, backend: t.backend, ...opts });
export const onesLike = (t: Tensor, opts: CreateOptions = {}): Tensor => full(t.shape, 1, { dtype: t.dtype, backend: t.backend, ...opts });

/** [start, end) by step; int32 when all three are integers, else float32. */
export function arange(start: number, end?: number, step = 1, opts: CreateOptions = {}): Tensor {
  if (end === undefined) { end = start; start = 0; }
  if (step === 0) throw new RangeError('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const arr = dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  const backend = opts.backend ?? getBackend();
  return finish(wrap(backend, backend.fromArray(dtype === 'float16' ? encodeF16(arr as Float32Array) : arr), [n]), opts);
}

/** A float16 tensor from IEEE half bit patterns (e.g. an F16 checkpoint entry), uploaded as is. */
export function fromF16Bits(bits: Uint16Array, shape: readonly number[], opts: { backend?: Backend } = {}): Tensor {
  checkShape(shape, 'fromF16Bits');
  if (sizeOf(shape) !== bits.length) throw new Error(`fromF16Bits: ${bits.length} values do not fill shape ${shapeStr(shape)}`);
  const backend = opts.backend ?? getBackend();
  return wrap(backend, backend.fromArray(bits), shape);
}
