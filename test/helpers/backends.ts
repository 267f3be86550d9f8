// The backends a parity or golden test runs on: the CPU reference always, the wasm backend
// always (it needs nothing but Node), and WebGPU when an adapter exists here (CI installs
// lavapipe, so there it runs). A missing adapter is reported as a visible skip, never silently
// dropped, and under CI=true test/ci_requirements.test.ts fails the run for it.
// RECONVLA_TEST_BACKENDS=cpu (or a comma list) limits the list.
import type { Backend } from '../../packages/core/src/index.ts';
import { createCpuBackend } from '../../packages/core/src/index.ts';

export interface TestBackend { name: string; backend?: Backend; skip?: string }

let cached: Promise<TestBackend[]> | undefined;

export function testBackends(): Promise<TestBackend[]> {
  cached ??= (async () => {
    const only = process.env.RECONVLA_TEST_BACKENDS?.split(',');
    const list: TestBackend[] = [{ name: 'cpu', backend: createCpuBackend() }];
    if (!only || only.includes('wasm')) {
      const { createWasmBackend } = await import('../../packages/core/src/backends/wasm/index.ts');
      // Two threads whatever the machine, so golden runs cover the worker pool.
      list.push({ name: 'wasm', backend: createWasmBackend({ threads: 2 }) });
    }
    if (only && !only.includes('webgpu')) return list;
    const { createWebGPUBackend } = await import('../../packages/core/src/backends/webgpu/index.ts');
    try {
      list.push({ name: 'webgpu', backend: await createWebGPUBackend() });
    } catch (e) {
      list.push({ name: 'webgpu', skip: `no WebGPU adapter: ${(e as Error).message}` });
    }
    return list;
  })();
  return cached;
}
