// Drivers for the elementwise kernels. A broadcasting binary op is reduced to the kernel's
// 2-d form by dropping size-1 dims and merging dims where every operand stays contiguous
// (e.g. [B,T,C] + [C] becomes [B*T, C] with the bias repeated); what is left with more than
// three dims (or with an int32 operand) goes to the reference kernel.
import type { KernelCall } from '../pool.ts';
import type { Runtime, KernelFn } from '../runtime.ts';
import { emitElementwise } from '../kernels/elementwise.ts';
import { broadcastStrides } from '../../cpu/elementwise.ts';
import { splitRange } from './split.ts';

/** Elements per thread below which an elementwise op is not split. */
const MIN_PER_THREAD = 1 << 15;

export function elementwiseKernels(rt: Runtime): Record<string, KernelFn> {
  return rt.kernels('elementwise', emitElementwise);
}

/** Dims of the output with per-operand strides, size-1 dims dropped and contiguous runs merged. */
export function collapseBroadcast(outShape: readonly number[], operandShapes: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const all = operandShapes.map((s) => broadcastStrides(s, outShape));
  const shape: number[] = [], strides: number[][] = operandShapes.map(() => []);
  for (let d = outShape.length - 1; d >= 0; d--) {
    const size = outShape[d]!;
    if (size === 1) continue;
    const k = shape.length - 1;
    // Merge into the current outermost collapsed dim when each operand continues contiguously.
    if (k >= 0 && all.every((st, i) => st[d] === strides[i]![0]! * shape[0]!)) {
      shape[0] = shape[0]! * size;
    } else {
      shape.unshift(size);
      all.forEach((st, i) => strides[i]!.unshift(st[d]!));
    }
  }
  return { shape, strides };
}

/** Per-thread calls for out = a OP b, or undefined when the broadcast is not expressible. */
export function binaryCalls(rt: Runtime, op: string, a: number, aShape: readonly number[], b: number, bShape: readonly number[],
  out: number, outShape: readonly number[]): KernelCall[][] | undefined {
  const { shape, strides } = collapseBroadcast(outShape, [aShape, bShape]);
  const [as, bs] = strides as [number[], number[]];
  while (shape.length < 2) { shape.unshift(1); as.unshift(0); bs.unshift(0); }
  if (shape.length > 3) return undefined;
  if (shape.length === 2) { shape.unshift(1); as.unshift(0); bs.unshift(0); }
  const [d0, outer, inner] = shape as [number, number, number];
  const ais = as[2]!, bis = bs[2]!;
  if ((ais !== 0 && ais !== 1) || (bis !== 0 && bis !== 1)) return undefined;
  const fn = elementwiseKernels(rt)[`bin_${op}`]!.id;
  const call = (o: number, i0: number, i1: number, r0: number, r1: number): KernelCall => ({
    fn, args: [a + 4 * (o * as[0]! + r0 * as[1]! + i0 * ais), b + 4 * (o * bs[0]! + r0 * bs[1]! + i0 * bis), out + 4 * ((o * outer + r0) * inner + i0),
      r1 - r0, i1 - i0, as[1]!, ais, bs[1]!, bis],
  });
  if (d0 === 1 && outer === 1) return splitRange(inner, rt.threads, MIN_PER_THREAD, (i0, i1) => call(0, i0, i1, 0, 1), 4);
  if (d0 === 1) return splitRange(outer, rt.threads, Math.ceil(MIN_PER_THREAD / inner), (r0, r1) => call(0, 0, inner, r0, r1));
  // Three dims: one call per leading index, leading indices split across threads.
  const threads = Math.max(1, Math.min(rt.threads, d0, Math.floor(d0 * outer * inner / MIN_PER_THREAD)));
  const lists: KernelCall[][] = Array.from({ length: threads }, () => []);
  for (let o = 0; o < d0; o++) lists[Math.floor(o * threads / d0)]!.push(call(o, 0, inner, 0, outer));
  return lists;
}

/** Per-thread calls for a kernel over n contiguous elements: fn(...ptrs shifted to i0, i1 - i0, ...extra). */
export function flatCalls(rt: Runtime, fn: KernelFn, ptrs: number[], n: number, extra: number[] = []): KernelCall[][] {
  return splitRange(n, rt.threads, MIN_PER_THREAD, (i0, i1) => ({ fn: fn.id, args: [...ptrs.map((p) => p + 4 * i0), i1 - i0, ...extra] }), 4);
}
