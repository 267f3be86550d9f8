// Parity of the WebGPU backend with the CPU reference (the shared suite in parity_suite.ts).
// Skips (visibly) only when there is no WebGPU adapter.
import { test, type TestContext } from 'node:test';
import type { Backend } from '../src/backend.ts';
import { createWebGPUBackend } from '../src/backends/webgpu/index.ts';
import { defineParitySuite } from './parity_suite.ts';

const gpuOrError: Backend | Error = await createWebGPUBackend().catch((e: unknown) => e as Error);

/** Runs fn with the GPU backend, or skips with the reason there is none. */
function gpuTest(name: string, fn: (gpu: Backend) => Promise<void>): void {
  test(`webgpu parity: ${name}`, async (t: TestContext) => {
    if (gpuOrError instanceof Error) { t.skip(`no WebGPU adapter: ${gpuOrError.message}`); return; }
    await fn(gpuOrError);
  });
}

defineParitySuite(gpuTest, Number(process.env.WEBGPU_PARITY_RUNS ?? 25));
