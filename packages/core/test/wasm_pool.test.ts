// The wasm worker pool when a worker dies outright (process.exit, an uncaught error, running
// out of JS heap) rather than trapping: the call in flight throws an error naming the worker
// and the kernel instead of hanging, the dead worker is replaced, and later calls give the
// CPU reference's results again.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createWasmBackend } from '../src/backends/wasm/index.ts';
import type { WorkerDeath } from '../src/backends/wasm/pool.ts';
import { createCpuBackend } from '../src/backends/cpu/index.ts';
import { randomF32 } from './parity_suite.ts';

const wasm = createWasmBackend({ threads: 2 });
const cpu = createCpuBackend();
after(() => wasm.close());

// 128^3 is above the threading threshold, so worker 1 runs half of the rows.
const M = 128, K = 128, N = 128;
const args = { batch: 1, m: M, k: K, n: N, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
const aData = randomF32(M * K, 1), bData = randomF32(K * N, 2);
const expected = cpu.readSync(cpu.matmul(cpu.fromArray(aData), cpu.fromArray(bData), args)) as Float32Array;

function matmulMatchesCpu(): void {
  const a = wasm.fromArray(aData), b = wasm.fromArray(bData), c = wasm.matmul(a, b, args);
  const got = wasm.readSync(c) as Float32Array;
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - expected[i]!) <= 1e-4 * (1 + Math.abs(expected[i]!)), `element ${i}: ${got[i]} vs ${expected[i]}`);
  for (const s of [a, b, c]) wasm.free(s);
}

for (const how of ['exit', 'throw', 'oom'] as WorkerDeath[]) {
  test(`wasm pool: a worker that dies by ${how} fails the call naming the kernel, and is replaced`, () => {
    matmulMatchesCpu();
    const restarts = wasm.rt.pool.restarts;
    const a = wasm.fromArray(aData), b = wasm.fromArray(bData);
    wasm.rt.pool.testDieAtNextCall(0, how);
    assert.throws(() => wasm.matmul(a, b, args), (e: unknown) => {
      const msg = (e as Error).message;
      assert.match(msg, /wasm worker 1 died/);
      assert.match(msg, /kernel 'gemm[^']*\.gemm'/);
      if (how === 'exit') assert.match(msg, /exit code 7/);
      if (how === 'throw') assert.match(msg, /test hook: uncaught error/);
      if (how === 'oom') assert.match(msg, /out of memory|ERR_WORKER_OUT_OF_MEMORY/i);
      return true;
    });
    wasm.free(a); wasm.free(b);
    assert.equal(wasm.rt.pool.restarts, restarts + 1);
    assert.equal(wasm.info().details!['worker restarts'], String(restarts + 1));
    // The replacement gets every module compiled so far and computes the same product.
    matmulMatchesCpu();
    matmulMatchesCpu();
  });
}

test('wasm pool: a kernel that traps is reported without killing the worker', () => {
  const restarts = wasm.rt.pool.restarts;
  // An address past the end of memory makes the worker's half of the GEMM trap.
  const bad = { fn: wasm.rt.kernels('gemm-probe', (m) => {
    const f = m.func('load_far', { p: 'i32' });
    f.body = [0x20, 0, 0x28, 2, 0, 0x1a]; // local.get 0; i32.load; drop
  }).load_far!.id, args: [0x7fff_fff0] };
  assert.throws(() => wasm.rt.run([[], [bad]]), /wasm worker 1 failed in kernel 'gemm-probe\.load_far' \(call 1 of 1\): RuntimeError/);
  assert.equal(wasm.rt.pool.restarts, restarts);
  matmulMatchesCpu();
});

test('wasm pool: the test hook names a worker that exists', () => {
  assert.throws(() => wasm.rt.pool.testDieAtNextCall(5, 'exit'), /no worker 5 \(the pool has 1\)/);
});
