// The runtime under the wasm backend: the shared heap, the worker pool, and the cache of
// compiled kernel modules. A kernel module is built by TypeScript code (see kernels/*) once per
// key (its shape class and SIMD flavour), compiled, instantiated on this thread and handed to
// every worker. Each exported function gets a global id so calls can be queued to workers.
import { setFlagsFromString } from 'node:v8';
import { f32x4, get, HOST_FUNCTIONS, ModuleBuilder } from './emitter.ts';
import { Heap, PAGE } from './memory.ts';
import { WorkerPool, type KernelCall } from './pool.ts';
import { WA } from './webassembly.ts';

export interface KernelFn { readonly id: number; readonly name: string; readonly call: (...args: number[]) => number | void }

export interface RuntimeOptions {
  threads: number;
  relaxedSimd: boolean;
  initialBytes: number;
  maximumBytes: number;
  debug: (msg: string) => void;
}

/** Whether this engine validates a module using f32x4.relaxed_madd (after enabling the flag). */
export function detectRelaxedSimd(enableFlag: boolean): boolean {
  // (func (param v128 v128 v128) (result v128) local.get 0 1 2 f32x4.relaxed_madd)
  const bytes = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 8, 1, 96, 3, 123, 123, 123, 1, 123, 3, 2, 1, 0,
    10, 13, 1, 11, 0, 32, 0, 32, 1, 32, 2, 253, 133, 2, 11]);
  if (WA.validate(bytes)) return true;
  if (!enableFlag) return false;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WA.validate(bytes);
}

/** How relaxed SIMD stands in this process: 'native' (the engine has it unflagged, Node >= 22),
 * 'flag' (Node 20: V8's --experimental-wasm-relaxed-simd was enabled, and a probe module then
 * validated and computed a*b+c exactly on values where fused and unfused agree), or
 * 'unsupported'. Probed once; the flag is only set when the unflagged probe fails. */
export type RelaxedSimdSupport = 'native' | 'flag' | 'unsupported';
let relaxedSupport: RelaxedSimdSupport | null = null;

export function relaxedSimdSupport(): RelaxedSimdSupport {
  if (relaxedSupport) return relaxedSupport;
  const native = detectRelaxedSimd(false);
  const ok = (native || detectRelaxedSimd(true)) && probeRelaxedMadd();
  relaxedSupport = !ok ? 'unsupported' : native ? 'native' : 'flag';
  return relaxedSupport;
}

/** Runs f32x4.relaxed_madd on a few lanes: it must give a*b+c (exact for these values). */
function probeRelaxedMadd(): boolean {
  try {
    const m = new ModuleBuilder();
    const f = m.func('madd', { a: 'f32', b: 'f32', c: 'f32' }, 'f32');
    f.body = f32x4.extract_lane(f32x4.relaxed_madd(f32x4.splat(get(f.p.a)), f32x4.splat(get(f.p.b)), f32x4.splat(get(f.p.c))), 0);
    const memory = new WA.Memory({ initial: 1, maximum: 1, shared: true });
    const inst = new WA.Instance(new WA.Module(m.encode({ initialPages: 1, maximumPages: 1 })), { env: { memory } });
    const madd = inst.exports.madd as (a: number, b: number, c: number) => number;
    return madd(1.5, 2, 0.25) === 3.25 && madd(3, -2, 7) === 1 && madd(-0.5, 0.5, 0) === -0.25;
  } catch {
    return false;
  }
}

export class Runtime {
  readonly heap: Heap;
  readonly pool: WorkerPool;
  private readonly modules = new Map<string, Record<string, KernelFn>>();
  private readonly fnTable: Array<(...args: number[]) => number | void> = [];
  private readonly fnNames: string[] = [];
  compiledModules = 0;

  constructor(readonly opts: RuntimeOptions) {
    this.heap = new Heap(Math.ceil(opts.initialBytes / PAGE), Math.floor(opts.maximumBytes / PAGE));
    this.pool = new WorkerPool(this.heap.memory, opts.threads, (fn) => this.fnNames[fn] ?? `#${fn}`);
  }

  get threads(): number { return this.pool.threads; }

  /** The functions of the module under `key`, building and compiling it on first use. */
  kernels(key: string, build: (m: ModuleBuilder) => void): Record<string, KernelFn> {
    const hit = this.modules.get(key);
    if (hit) return hit;
    const t0 = performance.now();
    const mb = new ModuleBuilder();
    build(mb);
    const bytes = mb.encode({ initialPages: this.heap.initialPages, maximumPages: this.heap.maximumPages });
    const module = new WA.Module(bytes);
    const instance = new WA.Instance(module, { env: { memory: this.heap.memory, ...HOST_FUNCTIONS } });
    const fns: Record<string, KernelFn> = {};
    const ids: Array<[number, string]> = [];
    for (const [name, value] of Object.entries(instance.exports)) {
      if (typeof value !== 'function') continue;
      const fn = value as (...args: number[]) => number | void;
      const id = this.fnTable.length;
      this.fnTable.push(fn);
      this.fnNames.push(`${key}.${name}`);
      fns[name] = { id, name, call: fn };
      ids.push([id, name]);
    }
    this.pool.register(module, ids);
    this.modules.set(key, fns);
    this.compiledModules++;
    this.opts.debug(`compiled kernel module '${key}' (${bytes.length} bytes) in ${(performance.now() - t0).toFixed(1)} ms`);
    return fns;
  }

  /** Kernel launches: on this thread alone, and with the pool (each a wake-up and a wait). */
  readonly launches = { local: 0, pooled: 0 };

  /** Runs per-thread call lists (index 0 on this thread) and waits for all. */
  run(lists: KernelCall[][]): void {
    if (lists.length === 1) { this.launches.local++; for (const c of lists[0]!) this.fnTable[c.fn]!(...c.args); return; }
    this.launches.pooled++;
    this.pool.run(lists, (c) => { this.fnTable[c.fn]!(...c.args); });
  }

  close(): void { this.pool.close(); }
}
