// The wasm backend's entry point: options (threads, relaxed SIMD, memory limits) from arguments
// or the environment, and the helper that tells `auto` selection when a WebGPU adapter is only
// a CPU emulation (where this backend is several times faster).
import { availableParallelism } from 'node:os';
import { WasmBackend } from './backend.ts';
import { MAX_WORKERS } from './pool.ts';
import { relaxedSimdSupport } from './runtime.ts';
import { WA } from './webassembly.ts';
import { ModuleBuilder, v128 } from './emitter.ts';

export { WasmBackend } from './backend.ts';
export { WasmStorage } from './storage.ts';
export { WasmOutOfMemoryError } from './memory.ts';
export { isCpuEmulatedAdapter, type AdapterLike } from '../adapter.ts';

export interface WasmBackendOptions {
  /** Threads including the calling one (default: RECONVLA_WASM_THREADS, else available cores). */
  threads?: number;
  /** Use f32x4.relaxed_madd (fused multiply-add where the CPU has it). Default:
   * RECONVLA_WASM_RELAXED_SIMD when set (0 turns it off), else on wherever relaxedSimdSupport()
   * finds it: natively (Node >= 22) or, on Node 20, after enabling V8's
   * --experimental-wasm-relaxed-simd and a probe module validating and computing a*b+c.
   * Results differ from plain SIMD by float rounding only (relaxed_simd.test.ts). */
  relaxedSimd?: boolean;
  /** Initial and maximum size of the shared memory in bytes (default 64 MiB and 4 GiB). */
  initialMemoryBytes?: number;
  maximumMemoryBytes?: number;
  /** Debug log sink (default: stderr when RECONVLA_DEBUG contains 'wasm'). */
  debug?: (message: string) => void;
  /** Time every op by kind and matmul shape (default: RECONVLA_DEBUG contains 'wasm-profile');
   * read with backend.profileReport(), printed to stderr at exit when set by the environment. */
  profile?: boolean;
}

const MAX_BYTES = 2 ** 32;

export function createWasmBackend(opts: WasmBackendOptions = {}): WasmBackend {
  const envThreads = Number(process.env.RECONVLA_WASM_THREADS);
  const threads = Math.max(1, Math.min(MAX_WORKERS + 1, Math.floor(opts.threads ?? (envThreads > 0 ? envThreads : availableParallelism()))));
  const env = process.env.RECONVLA_WASM_RELAXED_SIMD;
  const wantRelaxed = opts.relaxedSimd ?? (env !== undefined && env !== '' ? /^(1|true|yes)$/i.test(env) : true);
  const debugFlags = (process.env.RECONVLA_DEBUG ?? '').split(',');
  const debugOn = debugFlags.includes('wasm');
  const profileEnv = debugFlags.includes('wasm-profile');
  const debug = opts.debug ?? (debugOn ? (m: string) => process.stderr.write(`reconvla wasm: ${m}\n`) : () => {});
  const relaxedSimd = wantRelaxed && relaxedSimdSupport() !== 'unsupported';
  if (wantRelaxed && !relaxedSimd) debug('relaxed SIMD requested but not supported by this engine; using mul+add');
  const backend = new WasmBackend({
    threads,
    relaxedSimd,
    initialBytes: opts.initialMemoryBytes ?? 64 * 2 ** 20,
    maximumBytes: Math.min(MAX_BYTES, opts.maximumMemoryBytes ?? MAX_BYTES),
    debug,
    profile: opts.profile ?? profileEnv,
  });
  if (opts.profile === undefined && profileEnv) {
    process.once('exit', () => {
      const { local, pooled } = backend.rt.launches;
      process.stderr.write(`reconvla wasm profile (${threads} threads; ${pooled} kernel launches on the pool, ${local} on the calling thread alone):\n${backend.profiler!.format()}\n`);
    });
  }
  return backend;
}

/** Whether this engine has WebAssembly SIMD128 and shared memory (a module using both validates). */
function hasSimd128(): boolean {
  const m = new ModuleBuilder();
  m.func('f', {}).body = [...v128.zero(), 0x1a]; // v128.const 0; drop
  return WA.validate(m.encode({ initialPages: 1, maximumPages: 1 }));
}

/** For `reconvla doctor`: what the wasm backend would run with, without starting its threads. */
export function describeWasm(): { name: 'wasm'; available: boolean; summary: string; details: Record<string, string>; fix?: string } {
  const simd = hasSimd128();
  const threads = Number(process.env.RECONVLA_WASM_THREADS) > 0 ? Number(process.env.RECONVLA_WASM_THREADS) : availableParallelism();
  const env = process.env.RECONVLA_WASM_RELAXED_SIMD;
  const off = env !== undefined && env !== '' && !/^(1|true|yes)$/i.test(env);
  const support = relaxedSimdSupport();
  const details = {
    simd128: String(simd),
    threads: String(threads),
    relaxedSimd: support === 'unsupported' ? 'not supported by this engine: plain SIMD (mul+add)'
      : off ? `off (RECONVLA_WASM_RELAXED_SIMD=${env}): plain SIMD (mul+add)`
        : support === 'native' ? 'in use (f32x4.relaxed_madd, native in this engine)'
          : 'in use (f32x4.relaxed_madd; Node 20: V8 --experimental-wasm-relaxed-simd enabled after a probe module validated and computed a*b+c)',
    maxMemory: '4 GiB (wasm32)',
  };
  if (!simd) return { name: 'wasm', available: false, summary: 'this engine has no WebAssembly SIMD', details, fix: 'use Node >= 16.4' };
  return { name: 'wasm', available: true, summary: `WebAssembly SIMD kernels on ${threads} thread${threads === 1 ? '' : 's'}, ${support !== 'unsupported' && !off ? 'relaxed SIMD (fused multiply-add)' : 'plain SIMD (mul+add)'}`, details };
}
