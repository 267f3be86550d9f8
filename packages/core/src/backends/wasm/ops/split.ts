// Splitting a range of independent items (rows, elements) across the pool's threads. Work
// below `minPerThread` items per thread stays on fewer threads: waking a worker costs ~1-2 us.
import type { KernelCall } from '../pool.ts';

/** Lists of calls, one per thread, each covering a contiguous part of [0, n). `align` keeps
 * boundaries at multiples (4 for vector loops over elements). */
export function splitRange(n: number, threads: number, minPerThread: number, call: (i0: number, i1: number) => KernelCall, align = 1): KernelCall[][] {
  const t = Math.max(1, Math.min(threads, Math.floor(n / Math.max(1, minPerThread))));
  const lists: KernelCall[][] = [];
  const chunk = Math.ceil(n / t / align) * align;
  for (let i = 0; i < t; i++) {
    const i0 = Math.min(n, i * chunk), i1 = Math.min(n, i0 + chunk);
    if (i1 > i0 || i === 0) lists.push([call(i0, i1)]);
  }
  return lists;
}
