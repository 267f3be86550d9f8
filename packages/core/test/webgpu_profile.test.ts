// The opt-in GPU profiler (profile.ts): timestamp queries per dispatch, collected at reads.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { MatmulArgs } from '../src/backend.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../src/backends/webgpu/index.ts';

const gpuOrError: WebGPUBackend | Error = await createWebGPUBackend({ profile: true }).catch((e: unknown) => e as Error);

test('webgpu profile: every dispatch is timed under its kernel and op, results unchanged', async (t: TestContext) => {
  if (gpuOrError instanceof Error) { t.skip(`no WebGPU adapter: ${gpuOrError.message}`); return; }
  const gpu = gpuOrError;
  const report = gpu.profileReport();
  if (report === null) { t.skip('adapter has no timestamp-query'); return; }
  assert.deepEqual(report, []);
  const m = 33, k = 20, n = 17;
  const a = gpu.fromArray(Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3));
  const b = gpu.fromArray(Float32Array.from({ length: k * n }, (_, i) => (i % 5) - 2));
  const args: MatmulArgs = { batch: 1, m, k, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
  const c = gpu.matmul(a, b, args);
  const s = gpu.normalize(c, m, n, 1e-5, true);
  // Reading collects the timestamps of everything submitted before it.
  const got = await gpu.read(c);
  const want = new Float32Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let v = 0;
    for (let q = 0; q < k; q++) v += ((i * k + q) % 7 - 3) * ((q * n + j) % 5 - 2);
    want[i * n + j] = v;
  }
  assert.deepEqual(Array.from(got), Array.from(want), 'a profiled matmul computes the same product');
  const rows = gpu.profileReport()!;
  const mm = rows.find((r) => r.kernel.startsWith('matmul:matmul'));
  const norm = rows.find((r) => /^normalize:normalize(_rows)? rmsNorm$/.test(r.kernel));
  assert.ok(mm && norm, `rows for matmul and rmsNorm, got ${JSON.stringify(rows)}`);
  assert.equal(mm.calls, 1);
  assert.equal(norm.calls, 1);
  assert.equal(mm.work, 2 * m * k * n, 'matmul work is its flops');
  for (const r of rows) assert.ok(r.ms > 0 && r.ms < 10_000, `${r.kernel}: ${r.ms} ms is a real duration`);
  for (const x of [a, b, c, s.y, s.mean, s.rstd]) gpu.free(x);
});
