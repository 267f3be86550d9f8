// Driver for strided copies: writes the view (shape, element strides, offset) into a scratch
// block the kernel reads, then splits the view's rows across threads (gathers only: a scatter
// into a view with repeated elements must keep the reference's last-write-wins order).
import type { StridedView } from '../../../backend.ts';
import type { KernelCall } from '../pool.ts';
import type { Runtime } from '../runtime.ts';
import type { Scratch } from '../scratch.ts';
import { emitLayout } from '../kernels/layout.ts';
import { splitRange } from './split.ts';

const MIN_ELEMENTS_PER_THREAD = 1 << 15;

export function stridedCopy(rt: Runtime, scratch: Scratch, scatter: boolean, x: number, contiguous: number, view: StridedView): void {
  const shape = view.shape.length ? [...view.shape] : [1], strides = view.strides.length ? [...view.strides] : [0];
  const total = shape.reduce((p, d) => p * d, 1);
  if (total === 0) return;
  const rank = shape.length, n = shape[rank - 1]!, rows = total / n;
  const meta = scratch.get('layout.meta', (2 * rank + 1) * 4), i32 = rt.heap.i32, m = meta >>> 2;
  for (let d = 0; d < rank; d++) { i32[m + d] = shape[d]!; i32[m + rank + d] = strides[d]!; }
  i32[m + 2 * rank] = view.offset;
  const fn = rt.kernels('layout', emitLayout)[scatter ? 'scatter_strided' : 'gather_strided']!.id;
  let t = 0;
  const lists: KernelCall[][] = splitRange(rows, scatter ? 1 : rt.threads, Math.ceil(MIN_ELEMENTS_PER_THREAD / n), (r0, r1) => ({
    fn, args: [x, contiguous, meta, rank, r0, r1, scratch.get(`layout.idx.${t++}`, rank * 4)],
  }));
  rt.run(lists);
}
