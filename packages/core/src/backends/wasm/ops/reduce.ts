// Driver for float32 sum/max/min over [outer, len, inner]: rows (inner == 1) or output rows
// split across threads, or, for a single output row, its columns.
import type { ReduceShape } from '../../../backend.ts';
import type { KernelCall } from '../pool.ts';
import type { Runtime } from '../runtime.ts';
import type { Scratch } from '../scratch.ts';
import { emitReduce, type NativeReduce } from '../kernels/reduce.ts';
import { splitRange } from './split.ts';

const MIN_ELEMENTS_PER_THREAD = 1 << 15;

export function reduceNative(rt: Runtime, scratch: Scratch, op: NativeReduce, x: number, out: number, s: ReduceShape): void {
  const k = rt.kernels('reduce', emitReduce);
  const { outer, len, inner } = s;
  if (inner === 1) {
    const fn = k[`rowreduce_${op}`]!.id;
    rt.run(splitRange(outer, rt.threads, Math.ceil(MIN_ELEMENTS_PER_THREAD / len), (r0, r1) => ({ fn, args: [x, out, r0, r1, len] })));
    return;
  }
  const fn = k[`colreduce_${op}`]!.id;
  let t = 0;
  const comp = (): number => scratch.get(`reduce.comp.${t++}`, inner * 4);
  const perRow = len * inner;
  const lists: KernelCall[][] = outer > 1
    ? splitRange(outer, rt.threads, Math.ceil(MIN_ELEMENTS_PER_THREAD / perRow), (o0, o1) => ({ fn, args: [x, out, comp(), o0, o1, len, inner, 0, inner] }))
    : splitRange(inner, rt.threads, Math.ceil(MIN_ELEMENTS_PER_THREAD / len), (c0, c1) => ({ fn, args: [x, out, comp(), 0, 1, len, inner, c0, c1] }), 4);
  rt.run(lists);
}
