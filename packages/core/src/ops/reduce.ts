// Reductions over one or more axes, composed from the backend's single-axis reduce.
import type { ReduceOp } from '../backend.ts';
import { normAxis, padShape, shapeStr, splitAt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { expand, reshape } from './layout.ts';
import { f32, record, requireFloat, wrap } from './record.ts';
import { div } from './elementwise.ts';
import { takeAlongAxis } from './indexing.ts';

function axesOf(x: Tensor, dim: number | number[] | undefined, op: string): number[] {
  if (dim === undefined) return x.shape.map((_, i) => i);
  const list = Array.isArray(dim) ? dim : [dim];
  const axes = [...new Set(list.map((d) => normAxis(d, x.rank, op)))];
  return axes.sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function finalShape(shape: readonly number[], axes: readonly number[], keepdim: boolean): number[] {
  return keepdim ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

/** Reduce one axis without gradient, keeping it as size 1. */
function reduceAxis(op: ReduceOp, x0: Tensor, axis: number): Tensor {
  const x = f32(x0);
  const s = splitAt(x.shape, axis);
  const shape = [...x.shape];
  shape[axis] = 1;
  return wrap(x.backend, x.backend.reduce(op, x.storage, s), shape);
}

/** Sum over the adjacent axes first..last in one backend pass (they are one axis of a
 * contiguous tensor), keeping them as size 1. */
function sumAxes(x: Tensor, first: number, last: number): Tensor {
  const outer = x.shape.slice(0, first).reduce((p, d) => p * d, 1);
  const len = x.shape.slice(first, last + 1).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(last + 1).reduce((p, d) => p * d, 1);
  const shape = x.shape.map((d, i) => (i >= first && i <= last ? 1 : d));
  return wrap(x.backend, x.backend.reduce('sum', x.storage, { outer, len, inner }), shape);
}

export function sum(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  const axes = axesOf(x, dim, 'sum');
  if (axes.length === 0) return x; // a 0-dim tensor sums to itself
  // Raw reductions (no graph per pass), one pass per run of adjacent axes: a broadcast
  // gradient [B, T, C] -> [C] is one [1, B*T, C] reduction, not two.
  let y = x;
  for (let i = 0; i < axes.length;) {
    let j = i;
    while (j + 1 < axes.length && axes[j + 1] === axes[j]! + 1) j++;
    y = sumAxes(y, axes[i]!, axes[j]!);
    i = j + 1;
  }
  const out = reshape(y, finalShape(x.shape, axes, keepdim));
  return record(out, 'sum', [x], (gy) => [expand(reshape(gy, keptShape(x.shape, axes)), x.shape)]);
}

export function mean(x: Tensor, dim?: number | number[], keepdim = false): Tensor {
  requireFloat('mean', x);
  const axes = axesOf(x, dim, 'mean');
  const count = axes.reduce((p, a) => p * x.shape[a]!, 1);
  return div(sum(x, axes, keepdim), count);
}

function extremum(op: 'max' | 'min', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (dim === undefined) {
    const flat = reshape(x, [x.size]);
    const v = extremum(op, flat, 0, false);
    return keepdim ? reshape(v, x.shape.map(() => 1)) : v;
  }
  const axis = normAxis(dim, x.rank, op);
  if (x.shape[axis] === 0) throw new Error(`${op}: cannot reduce an empty dim ${axis} of ${shapeStr(x.shape)}`);
  // Values are gathered at the arg-extremum, so the gradient flows to that element only.
  const idx = reduceAxis(op === 'max' ? 'argmax' : 'argmin', x, axis);
  const values = takeAlongAxis(x, axis, idx);
  return keepdim ? values : reshape(values, finalShape(x.shape, [axis], false));
}

/** Max over dim (all elements when dim is omitted); the gradient goes to the first maximum. */
export const max = (x: Tensor, dim?: number, keepdim = false): Tensor => extremum('max', x, dim, keepdim);
export const min = (x: Tensor, dim?: number, keepdim = false): Tensor => extremum('min', x, dim, keepdim);

function argext(op: 'argmax' | 'argmin', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (dim === undefined) {
    const r = reduceAxis(op, reshape(x, [x.size]), 0);
    return keepdim ? reshape(r, x.shape.map(() => 1)) : reshape(r, []);
  }
  const axis = normAxis(dim, x.rank, op);
  const r = reduceAxis(op, x, axis);
  return keepdim ? r : reshape(r, finalShape(x.shape, [axis], false));
}
export const argmax = (x: Tensor, dim?: number, keepdim = false): Tensor => argext('argmax', x, dim, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false): Tensor => argext('argmin', x, dim, keepdim);

/** Sums a broadcast gradient back to shape (the adjoint of broadcasting). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const padded = padShape(shape, g.rank);
  const axes = padded.flatMap((d, i) => (d === 1 && g.shape[i] !== 1 ? [i] : []));
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}
