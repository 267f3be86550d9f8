// Elementwise chain family: 1,000 dependent small ops (alternating binary add and unary tanh on
// [1024] floats), recorded and awaited once; reported as µs per op end to end (the target is
// <= 40 µs/op). Also a large-tensor case, where the op is memory bound. The WebGPU backend fuses
// such chains into generated kernels (fusion.ts): `--variant fuse=0` times the unfused kernels
// against it in the same process. Three warm-up chains: the first few record at ~50 µs/op
// while V8 compiles the host path, which a training loop of thousands of steps never sees.
import type { WebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import { checkClose } from './check.ts';
import { type BenchContext, describeRow, row } from './context.ts';
import type { ResultRow } from './results.ts';
import { time, type Timing } from './timing.ts';
import { variantBackend, variantName } from './variant.ts';

const OPS = 1000;

async function timeChain(be: WebGPUBackend, n: number, ops: number): Promise<Timing> {
  const h0 = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  const x0 = be.fromArray(h0);
  const chain = () => {
    let x = x0;
    for (let i = 0; i < ops; i++) {
      const y = i % 2 ? be.unary('tanh', x) : be.binary('add', x, [n], x0, [n], [n], 'float32');
      if (x !== x0) be.free(x);
      x = y;
    }
    return x;
  };
  { // checked once before timing (fused or not): the same chain on the host in float32 steps
    const out = chain(), got = await be.read(out);
    be.free(out);
    const want = Float32Array.from(h0);
    for (let i = 0; i < ops; i++) for (let j = 0; j < n; j++) want[j] = i % 2 ? Math.tanh(want[j]!) : want[j]! + h0[j]!;
    // tanh's float32 formulas differ from Math.tanh by ~1e-7 and the chain compounds that over
    // its ops (measured: 1.8e-5 after 1000 on lavapipe), so the tolerance grows with the ops.
    checkClose(`elementwise chain of ${ops} on [${n}]`, got, want, 1e-7 * ops, 1e-3);
  }
  const r = await time(async () => {
    let x = x0;
    for (let i = 0; i < ops; i++) {
      const y = i % 2 ? be.unary('tanh', x) : be.binary('add', x, [n], x0, [n], [n], 'float32');
      if (x !== x0) be.free(x);
      x = y;
    }
    await be.read(x);
    be.free(x);
  }, { warmup: 3, runs: 5 });
  be.free(x0);
  return r;
}

export async function benchElementwise(ctx: BenchContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const vbe = ctx.variant ? await variantBackend(ctx.variant, ctx.be) : null;
  for (const n of [1024, 1 << 20]) {
    const ops = n > 1e5 ? 100 : OPS;
    const r = await timeChain(ctx.be, n, ops);
    const kase = (t: Timing) => `chain of ${ops} add/tanh on [${n}]: ${(1000 * t.medianMs / ops).toFixed(1)} µs/op`;
    let res: ResultRow;
    if (vbe) {
      const v = await timeChain(vbe, n, ops);
      res = row('elementwise', kase(v), `variant ${variantName(ctx.variant!)}`, v.medianMs, n * ops, { name: 'current', ms: r.medianMs },
        { main_thread_cpu_percent: v.mainThreadCpuPercent });
    } else {
      res = row('elementwise', kase(r), 'reconvla-webgpu', r.medianMs, n * ops, null, { main_thread_cpu_percent: r.mainThreadCpuPercent });
    }
    ctx.log(describeRow(res)); rows.push(res);
  }
  vbe?.destroy();
  return rows;
}
