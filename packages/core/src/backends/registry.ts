// Which backends exist on this machine, and choosing one. The WebGPU module (and with it
// dawn.node) is imported only when asked for, so CPU-only programs never load it. `auto` picks
// WebGPU on a real GPU, and the wasm backend (WebAssembly SIMD on worker threads) when there is
// no adapter or the only one is a CPU emulation (lavapipe/llvmpipe, SwiftShader), which reaches
// a few percent of the processor's peak.
import type { Backend } from '../backend.ts';
import { setBackend } from '../engine.ts';
import { createCpuBackend } from './cpu/index.ts';

export type BackendName = 'cpu' | 'wasm' | 'webgpu';
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
  const { describeWasm } = await import('./wasm/index.ts');
  out.push(describeWasm());
  const { describeWebGPU } = await import('./webgpu/index.ts');
  out.push(await describeWebGPU());
  return out;
}

/** The choice from RECONVLA_BACKEND, validated. */
export function backendFromEnv(): BackendChoice {
  const v = (process.env.RECONVLA_BACKEND ?? 'auto').toLowerCase();
  if (v === 'auto' || v === 'cpu' || v === 'wasm' || v === 'webgpu') return v;
  throw new Error(`RECONVLA_BACKEND=${v} is not a backend; use auto, webgpu, wasm or cpu`);
}

export interface UseBackendOptions {
  /** With 'auto': fall back to a CPU backend (wasm) when no WebGPU adapter exists (default true). */
  allowCpuFallback?: boolean;
  /** With 'auto': use the wasm backend when the only WebGPU adapter is CPU-emulated (default true). */
  preferWasmOverEmulatedGpu?: boolean;
  /** Called with a line explaining a fallback (default: console.warn). */
  onFallback?: (message: string) => void;
}

/** Creates a backend: 'webgpu' (throws with the fix when there is no adapter), 'wasm', 'cpu', or 'auto'. */
export async function createBackend(choice: BackendChoice = backendFromEnv(), opts: UseBackendOptions = {}): Promise<Backend> {
  if (choice === 'cpu') return createCpuBackend();
  if (choice === 'wasm') return (await import('./wasm/index.ts')).createWasmBackend();
  const { createWebGPUBackend, WebGPUUnavailableError } = await import('./webgpu/index.ts');
  const say = opts.onFallback ?? console.warn;
  let gpu: Awaited<ReturnType<typeof createWebGPUBackend>>;
  try {
    gpu = await createWebGPUBackend();
  } catch (e) {
    if (choice === 'webgpu' || !(e instanceof WebGPUUnavailableError) || opts.allowCpuFallback === false) throw e;
    say(`reconvla: ${(e as Error).message} Falling back to the wasm backend (WebAssembly SIMD on the CPU).`);
    return (await import('./wasm/index.ts')).createWasmBackend();
  }
  if (choice === 'auto' && opts.preferWasmOverEmulatedGpu !== false) {
    const { isCpuEmulatedAdapter, createWasmBackend } = await import('./wasm/index.ts');
    const details = gpu.info().details ?? {};
    if (isCpuEmulatedAdapter(details)) {
      say(`reconvla: the only WebGPU adapter (${details.device ?? details.description ?? '?'}) is a CPU emulation; `
        + 'using the wasm backend, which is several times faster here (RECONVLA_BACKEND=webgpu forces WebGPU).');
      gpu.destroy();
      return createWasmBackend();
    }
  }
  return gpu;
}

/** createBackend, then make it the default for new tensors. */
export async function useBackend(choice: BackendChoice = backendFromEnv(), opts: UseBackendOptions = {}): Promise<Backend> {
  const b = await createBackend(choice, opts);
  setBackend(b);
  return b;
}
