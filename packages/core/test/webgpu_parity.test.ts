// Parity of the WebGPU backend with the CPU reference (the shared suite in parity_suite.ts).
// Skips (visibly) only when there is no WebGPU adapter.
import { test, type TestContext } from 'node:test';
import type { Backend } from '../src/backend.ts';
import { createWebGPUBackend } from '../src/backends/webgpu/index.ts';
import { defineParitySuite } from './parity_suite.ts';

const gpuOrError: Backend | Error = await createWebGPUBackend().catch((e: unknown) => e as Error);

/** Runs fn with the GPU backend `be`, or skips with the reason there is none. */
function gpuTest(name: string, fn: (gpu: Backend) => Promise<void>, be: Backend | Error = gpuOrError, prefix = 'webgpu parity'): void {
  test(`${prefix}: ${name}`, async (t: TestContext) => {
    if (be instanceof Error) { t.skip(`no WebGPU adapter: ${be.message}`); return; }
    await fn(be);
  });
}

defineParitySuite(gpuTest, Number(process.env.WEBGPU_PARITY_RUNS ?? 25));

// The row kernels (softmax, normalize, cross-entropy) have two mappings, a workgroup per row and
// an invocation per row, and 'auto' picks one by adapter and shape; run their cases both ways.
const ROW_KERNEL_TESTS = /softmax|normalize|crossEntropy/;
for (const mode of ['workgroup', 'invocation'] as const) {
  const be: Backend | Error = gpuOrError instanceof Error ? gpuOrError
    : await createWebGPUBackend({ rowKernels: mode }).catch((e: unknown) => e as Error);
  defineParitySuite((name, fn) => {
    if (ROW_KERNEL_TESTS.test(name)) gpuTest(name, fn, be, `webgpu parity (rows per ${mode})`);
  }, Number(process.env.WEBGPU_PARITY_RUNS ?? 25));
}
