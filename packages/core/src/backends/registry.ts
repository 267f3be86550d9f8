// Which backends exist on this machine, and choosing one. The WebGPU module (and with it
// dawn.node) is imported only when asked for, so CPU-only programs never load it.
import type { Backend } from '../backend.ts';
import { setBackend } from '../engine.ts';
import { createCpuBackend } from './cpu/index.ts';

export type BackendName = 'cpu' | 'webgpu';
export type BackendChoice = BackendName | 'auto';

export interface BackendDescription {
  name: string;
  available: boolean;
  summary?: string;
  details?: Record<string, string>;
  /** How to make a missing backend available. */
  fix?: string;
}

export async function describeBackends(): Promise<BackendDescription[]> {
  const out: BackendDescription[] = [{ name: 'cpu', available: true, summary: 'pure TypeScript reference backend (always available)' }];
  const { describeWebGPU } = await import('./webgpu/index.ts');
  out.push(await describeWebGPU());
  return out;
}

/** The choice from RECONVLA_BACKEND, validated. */
export function backendFromEnv(): BackendChoice {
  const v = (process.env.RECONVLA_BACKEND ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'cpu' || v === 'webgpu') return v;
  throw new Error(`RECONVLA_BACKEND=${v} is not a backend; use auto, webgpu or cpu`);
}

export interface UseBackendOptions {
  /** With 'auto': fall back to the CPU backend when no WebGPU adapter exists (default true). */
  allowCpuFallback?: boolean;
  /** Called with a line explaining a fallback (default: console.warn). */
  onFallback?: (message: string) => void;
}

/** Creates a backend: 'webgpu' (throws with the fix when there is no adapter), 'cpu', or 'auto'. */
export async function createBackend(choice: BackendChoice = backendFromEnv(), opts: UseBackendOptions = {}): Promise<Backend> {
  if (choice === 'cpu') return createCpuBackend();
  const { createWebGPUBackend, WebGPUUnavailableError } = await import('./webgpu/index.ts');
  try {
    return await createWebGPUBackend();
  } catch (e) {
    if (choice === 'webgpu' || !(e instanceof WebGPUUnavailableError) || opts.allowCpuFallback === false) throw e;
    (opts.onFallback ?? console.warn)(`reconvla: ${(e as Error).message} Falling back to the CPU backend.`);
    return createCpuBackend();
  }
}

/** createBackend, then make it the default for new tensors. */
export async function useBackend(choice: BackendChoice = backendFromEnv(), opts: UseBackendOptions = {}): Promise<Backend> {
  const b = await createBackend(choice, opts);
  setBackend(b);
  return b;
}
