// Driver for the row-wise kernels (softmax, normalize, cross-entropy and their gradients):
// rows are split across threads when the op is large enough to pay for waking them.
import type { KernelCall } from '../pool.ts';
import type { Runtime, KernelFn } from '../runtime.ts';
import { emitRows } from '../kernels/rows.ts';
import { splitRange } from './split.ts';

const MIN_ELEMENTS_PER_THREAD = 1 << 15;

export function rowKernels(rt: Runtime): Record<string, KernelFn> {
  return rt.kernels('rows', emitRows);
}

/** Runs kernel `name` as name(...before, r0, r1, ...after) over rows split across threads. */
export function runRows(rt: Runtime, name: string, rows: number, cols: number, before: number[], after: number[]): void {
  const fn = rowKernels(rt)[name]!.id;
  const lists: KernelCall[][] = splitRange(rows, rt.threads, Math.ceil(MIN_ELEMENTS_PER_THREAD / Math.max(1, cols)),
    (r0, r1) => ({ fn, args: [...before, r0, r1, ...after] }));
  rt.run(lists);
}
