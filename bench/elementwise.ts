// Elementwise chain family: 1,000 dependent small ops (alternating binary add and unary tanh on
// [1024] floats), recorded and awaited once; reported as µs per op end to end (the target is
// <= 40 µs/op). Also a large-tensor case, where the op is memory bound.
import { type BenchContext, describeRow, row } from './context.ts';
import type { ResultRow } from './results.ts';
import { time } from './timing.ts';

const OPS = 1000;

export async function benchElementwise(ctx: BenchContext): Promise<ResultRow[]> {
  const { be } = ctx;
  const rows: ResultRow[] = [];
  for (const n of [1024, 1 << 20]) {
    const x0 = be.fromArray(Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
    const ops = n > 1e5 ? 100 : OPS;
    const r = await time(async () => {
      let x = x0;
      for (let i = 0; i < ops; i++) {
        const y = i % 2 ? be.unary('tanh', x) : be.binary('add', x, [n], x0, [n], [n], 'float32');
        if (x !== x0) be.free(x);
        x = y;
      }
      await be.read(x);
      be.free(x);
    }, { runs: 5 });
    be.free(x0);
    const res = row('elementwise', `chain of ${ops} add/tanh on [${n}]: ${(1000 * r.medianMs / ops).toFixed(1)} µs/op`, 'reconvla-webgpu',
      r.medianMs, n * ops, null, { main_thread_cpu_percent: r.mainThreadCpuPercent });
    ctx.log(describeRow(res)); rows.push(res);
  }
  return rows;
}
