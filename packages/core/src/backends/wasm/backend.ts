// The wasm backend: storages live in one shared WebAssembly.Memory; hot kernels are
// WebAssembly SIMD modules emitted by TypeScript (kernels/*) and run on a worker pool (ops/*).
// Every other method runs the CPU reference kernel directly on typed-array views of the shared
// memory, and is counted per op (info().details, RECONVLA_DEBUG=wasm) so it is never silently slow.
import {
  dtypeBytes,
  type AdamWArgs, type AttentionArgs, type Backend, type BackendInfo, type BinaryOp, type Conv2dArgs, type DifferentiableUnaryOp, type DType,
  type HostArray, type MatmulArgs, type ReduceOp, type ReduceShape, type Storage, type StridedView, type UnaryOp,
} from '../../backend.ts';
import { decodeF16, encodeF16 } from '../../half.ts';
import { normalAt, uniformAt } from '../../random_bits.ts';
import * as ref from './reference.ts';
import { checkTarget } from '../cpu/nn.ts';
import { Runtime, type RuntimeOptions } from './runtime.ts';
import { Scratch } from './scratch.ts';
import { WasmStorage } from './storage.ts';
import { BIAS_NONE, gemmCalls } from './ops/matmul.ts';
import { actCode, BIAS_PER_COLUMN } from './kernels/gemm.ts';
import { emitRope, NATIVE_BINARY, NATIVE_UNARY, NATIVE_UNARY_GRAD } from './kernels/elementwise.ts';
import { splitRange } from './ops/split.ts';
import { binaryCalls, elementwiseKernels, flatCalls } from './ops/elementwise.ts';
import { runRows } from './ops/rows.ts';
import { attentionBackward, attentionForward } from './ops/attention.ts';
import { conv2dForward, conv2dGradInput, conv2dGradWeight } from './ops/conv2d.ts';
import { stridedCopy } from './ops/layout.ts';
import { reduceNative } from './ops/reduce.ts';
import { NATIVE_REDUCE, type NativeReduce } from './kernels/reduce.ts';
import { Profiler, type ProfileRow } from './profile.ts';

/** The Backend methods the profiler times (everything that runs a kernel or allocates). */
const PROFILED_METHODS = ['zeros', 'fill', 'fromArray', 'readSync', 'free', 'cast', 'unary', 'unaryGrad', 'binary', 'where', 'gatherStrided',
  'scatterStridedInto', 'reduce', 'indexSelect', 'indexAdd', 'takeAlongAxis', 'takeAlongAxisGrad', 'matmul', 'softmax', 'softmaxGrad',
  'normalize', 'normalizeGrad', 'crossEntropy', 'crossEntropyGrad', 'attention', 'attentionGrad', 'rope', 'conv2d', 'conv2dGradInput',
  'conv2dGradWeight', 'random', 'combineRows', 'adamwInPlace'] as const;

export interface WasmBackendConfig extends RuntimeOptions {
  /** Time every op (RECONVLA_DEBUG=wasm-profile); see profileReport(). */
  profile?: boolean;
}

const nativeBinary = new Set<string>(NATIVE_BINARY), nativeUnary = new Set<string>(NATIVE_UNARY), nativeUnaryGrad = new Set<string>(NATIVE_UNARY_GRAD);

type Arr = Float32Array | Int32Array;
const numel = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

function checkTargets(t: Int32Array, rows: number, cols: number, ignoreIndex: number): void {
  for (let r = 0; r < rows; r++) checkTarget(t[r]!, cols, ignoreIndex);
}

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly rt: Runtime;
  readonly scratch: Scratch;
  private live = 0;
  private liveBytes = 0;
  private readonly fallbacks = new Map<string, number>();
  private readonly nativeCalls = new Map<string, number>();
  /** Per-op wall times, when profiling is on. */
  readonly profiler: Profiler | undefined;

  constructor(opts: WasmBackendConfig) {
    this.rt = new Runtime(opts);
    this.scratch = new Scratch(this.rt.heap);
    this.rt.heap.describeLive = () => `${this.live} storages, ${(this.liveBytes / 2 ** 20).toFixed(1)} MiB`;
    if (opts.profile) {
      this.profiler = new Profiler();
      this.profiler.wrap(this, PROFILED_METHODS);
    }
  }

  /** Per-op totals since the last reset (empty unless created with profile: true). */
  profileReport(): ProfileRow[] { return this.profiler?.report() ?? []; }

  info(): BackendInfo {
    const mem = this.memory();
    const details: Record<string, string> = {
      threads: String(this.rt.threads),
      simd: this.rt.opts.relaxedSimd ? 'relaxed SIMD (f32x4.relaxed_madd)' : 'SIMD128 (mul+add)',
      'heap bytes': String(this.rt.heap.byteLength),
      'live bytes': String(mem.liveBytes),
      'pooled bytes': String(mem.pooledBytes),
      'scratch bytes': String(this.scratch.bytes),
      'compiled modules': String(this.rt.compiledModules),
      'worker restarts': String(this.rt.pool.restarts),
      fallbacks: [...this.fallbacks].map(([op, n]) => `${op}:${n}`).join(', ') || 'none',
    };
    for (const [op, n] of this.fallbacks) details[`fallback.${op}`] = String(n);
    return {
      name: 'wasm',
      summary: `WebAssembly SIMD kernels on ${this.rt.threads} thread${this.rt.threads === 1 ? '' : 's'}${this.rt.opts.relaxedSimd ? ' (relaxed SIMD)' : ''}`,
      details,
    };
  }

  /** Per-op counts of calls that ran the CPU reference kernels. */
  fallbackCounts(): Record<string, number> { return Object.fromEntries(this.fallbacks); }
  /** Per-op counts of calls that ran native kernels. */
  nativeCounts(): Record<string, number> { return Object.fromEntries(this.nativeCalls); }

  /** Stops the worker threads. The backend must not be used afterwards. */
  close(): void { this.rt.close(); }

  // --- memory ---------------------------------------------------------------------------------

  private alloc(size: number, dtype: DType): WasmStorage {
    const bytes = size * dtypeBytes(dtype);
    const { ptr, cls } = size === 0 ? { ptr: 0, cls: 0 } : this.rt.heap.alloc(bytes);
    this.live++;
    this.liveBytes += bytes;
    return new WasmStorage(dtype, size, ptr, cls);
  }

  st(s: Storage): WasmStorage {
    if (!(s instanceof WasmStorage)) throw new TypeError(`wasm backend got a storage of backend '${s.backend}'`);
    if (s.freed) throw new Error('wasm backend: use of a freed storage');
    return s;
  }
  /** A typed-array view of a float32/int32 storage inside the shared memory (no copy). Kernels
   * never get float16 except matmul, attention, indexSelect and cast, which handle it first. */
  view(s: Storage): Arr {
    const w = this.st(s), h = this.rt.heap;
    if (w.dtype === 'float16') throw new TypeError('wasm backend: a float16 storage reached a float32/int32 kernel (cast it to float32 first)');
    return w.dtype === 'float32' ? h.f32.subarray(w.ptr >>> 2, (w.ptr >>> 2) + w.size) : h.i32.subarray(w.ptr >>> 2, (w.ptr >>> 2) + w.size);
  }
  f32(s: Storage, what: string): Float32Array {
    const v = this.view(s);
    if (!(v instanceof Float32Array)) throw new TypeError(`${what}: expected float32, got ${s.dtype}`);
    return v;
  }
  i32(s: Storage, what: string): Int32Array {
    const v = this.view(s);
    if (!(v instanceof Int32Array)) throw new TypeError(`${what}: expected int32 indices, got ${s.dtype}`);
    return v;
  }
  /** The float16 bits of a float16 storage (a view, no copy). */
  private halves(s: Storage): Uint16Array {
    const w = this.st(s);
    return new Uint16Array(this.rt.heap.memory.buffer, w.ptr, w.size);
  }
  /** A float32 operand for a float32 kernel: s itself, or a temporary float32 copy of a float16
   * storage that the caller frees after the kernel (the native kernels read float32 only). */
  private asF32(s: Storage, temps: Storage[]): Storage {
    if (s.dtype !== 'float16') return s;
    const t = this.alloc(s.size, 'float32');
    this.f32(t, 'cast').set(decodeF16(this.halves(s)));
    temps.push(t);
    return t;
  }
  ptr(s: Storage): number { return this.st(s).ptr; }

  /** Marks a call as served by the CPU reference kernels. */
  private fallback(op: string): void {
    const n = (this.fallbacks.get(op) ?? 0) + 1;
    this.fallbacks.set(op, n);
    if (n === 1 || n % 1000 === 0) this.rt.opts.debug(`fallback to the CPU reference kernel for ${op} (call ${n})`);
  }
  private native(op: string): void { this.nativeCalls.set(op, (this.nativeCalls.get(op) ?? 0) + 1); }

  /** Runs fn (which fills `out`), freeing `out` if it throws (e.g. an index out of range). */
  private filling(out: WasmStorage | Storage, fn: () => void): Storage {
    try { fn(); } catch (e) { this.free(out); throw e; }
    return out;
  }

  zeros(size: number, dtype: DType): Storage {
    const s = this.alloc(size, dtype);
    if (dtype === 'float16') this.halves(s).fill(0); else this.view(s).fill(0);
    return s;
  }
  fromArray(data: HostArray): Storage {
    if (data instanceof Uint16Array) {
      const s = this.alloc(data.length, 'float16');
      this.halves(s).set(data);
      return s;
    }
    const s = this.alloc(data.length, data instanceof Float32Array ? 'float32' : 'int32');
    this.view(s).set(data);
    return s;
  }
  async read(s: Storage): Promise<Float32Array | Int32Array> { return this.readSync(s); }
  readSync(s: Storage): Float32Array | Int32Array { return s.dtype === 'float16' ? decodeF16(this.halves(s)) : this.view(s).slice(); }
  free(s: Storage): void {
    if (!(s instanceof WasmStorage)) throw new TypeError(`wasm backend got a storage of backend '${s.backend}'`);
    if (s.freed) return;
    s.freed = true;
    this.live--;
    this.liveBytes -= s.size * dtypeBytes(s.dtype);
    if (s.cls > 0) this.rt.heap.release(s.ptr, s.cls);
  }
  memory(): { liveStorages: number; liveBytes: number; pooledBytes: number } {
    return { liveStorages: this.live, liveBytes: this.liveBytes, pooledBytes: this.rt.heap.pooledBytes };
  }
  async sync(): Promise<void> {}

  // --- elementwise ----------------------------------------------------------------------------

  fill(size: number, dtype: DType, value: number): Storage {
    const s = this.alloc(size, dtype);
    if (dtype === 'float16') this.halves(s).fill(encodeF16(Float32Array.of(value))[0]!); else this.view(s).fill(value);
    return s;
  }
  cast(x: Storage, dtype: DType): Storage {
    if (x.dtype === 'float16' || dtype === 'float16') {
      if (x.dtype === 'int32' || dtype === 'int32') throw new TypeError(`cast: ${x.dtype} -> ${dtype} goes through float32 (the tensor layer does that)`);
      const out = this.alloc(x.size, dtype);
      if (x.dtype === dtype) this.halves(out).set(this.halves(x));
      else if (dtype === 'float16') this.halves(out).set(encodeF16(this.f32(x, 'cast')));
      else this.f32(out, 'cast').set(decodeF16(this.halves(x)));
      return out;
    }
    const out = this.alloc(x.size, dtype), src = this.view(x), dst = this.view(out);
    if (dtype === 'int32') for (let i = 0; i < src.length; i++) dst[i] = Math.trunc(src[i]!);
    else dst.set(src);
    return out;
  }
  unary(op: UnaryOp, x: Storage): Storage {
    const out = this.alloc(x.size, x.dtype);
    if (x.dtype === 'float32' && nativeUnary.has(op)) {
      this.native(`unary.${op}`);
      this.rt.run(flatCalls(this.rt, elementwiseKernels(this.rt)[`un_${op}`]!, [this.ptr(x), out.ptr], x.size));
      return out;
    }
    this.fallback(`unary.${op}`);
    ref.unary(op, this.view(x), this.view(out));
    return out;
  }
  unaryGrad(op: DifferentiableUnaryOp, x: Storage, gy: Storage): Storage {
    const out = this.alloc(x.size, 'float32');
    if (x.dtype === 'float32' && gy.dtype === 'float32' && nativeUnaryGrad.has(op)) {
      this.native(`unaryGrad.${op}`);
      this.rt.run(flatCalls(this.rt, elementwiseKernels(this.rt)[`ung_${op}`]!, [this.ptr(x), this.ptr(gy), out.ptr], x.size));
      return out;
    }
    this.fallback(`unaryGrad.${op}`);
    ref.unaryGrad(op, this.f32(x, op), this.f32(gy, op), this.f32(out, op));
    return out;
  }
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[], outDtype: DType): Storage {
    const out = this.alloc(numel(outShape), outDtype);
    if (out.size > 0 && a.dtype === 'float32' && b.dtype === 'float32' && outDtype === 'float32' && nativeBinary.has(op)) {
      const calls = binaryCalls(this.rt, op, this.ptr(a), aShape, this.ptr(b), bShape, out.ptr, outShape);
      if (calls) { this.native(`binary.${op}`); this.rt.run(calls); return out; }
    }
    this.fallback(`binary.${op}`);
    ref.binary(op, this.view(a), aShape, this.view(b), bShape, outShape, this.view(out));
    return out;
  }
  where(cond: Storage, condShape: readonly number[], a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage {
    const out = this.alloc(numel(outShape), a.dtype);
    this.fallback('where');
    ref.where(this.view(cond), condShape, this.view(a), aShape, this.view(b), bShape, outShape, this.view(out));
    return out;
  }

  // --- layout ---------------------------------------------------------------------------------

  gatherStrided(x: Storage, view: StridedView): Storage {
    const out = this.alloc(numel(view.shape), x.dtype);
    this.native('gatherStrided');
    stridedCopy(this.rt, this.scratch, false, this.ptr(x), out.ptr, view);
    return out;
  }
  scatterStridedInto(dst: Storage, view: StridedView, src: Storage): void {
    this.native('scatterStridedInto');
    stridedCopy(this.rt, this.scratch, true, this.ptr(dst), this.ptr(src), view);
  }

  // --- reductions and indexing ------------------------------------------------------------------

  reduce(op: ReduceOp, x: Storage, shape: ReduceShape): Storage {
    const out = this.alloc(shape.outer * shape.inner, op === 'argmax' || op === 'argmin' ? 'int32' : x.dtype);
    if (x.dtype === 'float32' && (NATIVE_REDUCE as readonly string[]).includes(op) && shape.len > 0 && out.size > 0) {
      this.native(`reduce.${op}`);
      reduceNative(this.rt, this.scratch, op as NativeReduce, this.ptr(x), out.ptr, shape);
      return out;
    }
    this.fallback(`reduce.${op}`);
    ref.reduce(op, this.view(x), shape, this.view(out));
    return out;
  }
  indexSelect(x: Storage, shape: ReduceShape, ids: Storage): Storage {
    if (x.dtype === 'float16') {
      // A half table (an embedding): gather the halves, decode only the selected rows.
      const out = this.alloc(shape.outer * ids.size * shape.inner, 'float32');
      this.fallback('indexSelect');
      return this.filling(out, () => {
        const bits = new Uint16Array(out.size);
        ref.indexSelect(this.halves(x), shape, this.i32(ids, 'indexSelect'), bits);
        this.f32(out, 'indexSelect').set(decodeF16(bits));
      });
    }
    const out = this.alloc(shape.outer * ids.size * shape.inner, x.dtype);
    this.fallback('indexSelect');
    return this.filling(out, () => ref.indexSelect(this.view(x), shape, this.i32(ids, 'indexSelect'), this.view(out)));
  }
  indexAdd(g: Storage, shape: ReduceShape, ids: Storage): Storage {
    const out = this.zeros(shape.outer * shape.len * shape.inner, 'float32');
    this.fallback('indexAdd');
    return this.filling(out, () => ref.indexAdd(this.f32(g, 'indexAdd'), shape, this.i32(ids, 'indexAdd'), this.f32(out, 'indexAdd')));
  }
  takeAlongAxis(x: Storage, shape: ReduceShape, idx: Storage, k: number): Storage {
    const out = this.alloc(shape.outer * k * shape.inner, x.dtype);
    this.fallback('takeAlongAxis');
    return this.filling(out, () => ref.takeAlongAxis(this.view(x), shape, this.i32(idx, 'gather'), k, this.view(out)));
  }
  takeAlongAxisGrad(g: Storage, shape: ReduceShape, idx: Storage, k: number): Storage {
    const out = this.zeros(shape.outer * shape.len * shape.inner, 'float32');
    this.fallback('takeAlongAxisGrad');
    return this.filling(out, () => ref.takeAlongAxisGrad(this.f32(g, 'gather'), shape, this.i32(idx, 'gather'), k, this.f32(out, 'gather')));
  }

  // --- linear algebra ---------------------------------------------------------------------------

  matmul(a0: Storage, b0: Storage, args: MatmulArgs): Storage {
    // float16 operands are widened into temporary float32 storages for the f32 GEMM (one decode
    // per call; the half weight stays half between calls).
    const temps: Storage[] = [];
    const a = this.asF32(a0, temps), b = this.asF32(b0, temps);
    try { return this.matmulF32(a, b, args); } finally { for (const t of temps) this.free(t); }
  }
  private matmulF32(a: Storage, b: Storage, args: MatmulArgs): Storage {
    const { batch, m, k, n, transA, transB } = args;
    this.f32(a, 'matmul'); this.f32(b, 'matmul');
    const out = this.alloc(batch * m * n, 'float32');
    this.native('matmul');
    if (out.size === 0) return out;
    const bias = args.bias ? this.f32(args.bias, 'matmul bias') : undefined;
    if (k === 0) {
      const o = this.f32(out, 'matmul');
      for (let r = 0; r < batch * m; r++) if (bias) o.set(bias, r * n); else o.fill(0, r * n, r * n + n);
      if (args.activation) ref.unary(args.activation, o, o);
      return out;
    }
    this.rt.run(gemmCalls(this.rt, this.scratch, {
      batch, m, n, k,
      a: this.ptr(a), aStride: args.aBatchStride * 4, b: this.ptr(b), bStride: args.bBatchStride * 4, c: out.ptr, cStride: m * n * 4,
      rsA: transA ? 4 : k * 4, csA: transA ? m * 4 : 4, rsB: transB ? 4 : n * 4, csB: transB ? k * 4 : 4,
      bias: args.bias ? this.ptr(args.bias) : 0, biasMode: args.bias ? BIAS_PER_COLUMN : BIAS_NONE, act: actCode(args.activation),
    }));
    return out;
  }

  // --- fused nn kernels -------------------------------------------------------------------------

  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage {
    const out = this.alloc(rows * cols, 'float32');
    this.native('softmax');
    this.f32(x, 'softmax');
    if (out.size > 0) runRows(this.rt, 'softmax_rows', rows, cols, [this.ptr(x), out.ptr], [cols, log ? 1 : 0]);
    return out;
  }
  softmaxGrad(y: Storage, gy: Storage, rows: number, cols: number, log: boolean): Storage {
    const out = this.alloc(rows * cols, 'float32');
    this.native('softmaxGrad');
    this.f32(y, 'softmax'); this.f32(gy, 'softmax');
    if (out.size > 0) runRows(this.rt, 'softmax_grad_rows', rows, cols, [this.ptr(y), this.ptr(gy), out.ptr], [cols, log ? 1 : 0]);
    return out;
  }
  normalize(x: Storage, rows: number, cols: number, eps: number, rms: boolean): { y: Storage; mean: Storage; rstd: Storage } {
    const y = this.alloc(rows * cols, 'float32'), mean = this.alloc(rows, 'float32'), rstd = this.alloc(rows, 'float32');
    this.native('normalize');
    this.f32(x, 'normalize');
    if (rows > 0) runRows(this.rt, 'normalize_rows', rows, cols, [this.ptr(x), y.ptr, mean.ptr, rstd.ptr], [cols, eps, rms ? 1 : 0]);
    return { y, mean, rstd };
  }
  normalizeGrad(xhat: Storage, rstd: Storage, gy: Storage, rows: number, cols: number, rms: boolean): Storage {
    const out = this.alloc(rows * cols, 'float32');
    this.native('normalizeGrad');
    this.f32(xhat, 'normalize'); this.f32(rstd, 'normalize'); this.f32(gy, 'normalize');
    if (out.size > 0) runRows(this.rt, 'normalize_grad_rows', rows, cols, [this.ptr(xhat), this.ptr(rstd), this.ptr(gy), out.ptr], [cols, rms ? 1 : 0]);
    return out;
  }
  crossEntropy(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number): { loss: Storage; valid: Storage } {
    this.f32(logits, 'cross_entropy');
    checkTargets(this.i32(targets, 'cross_entropy'), rows, cols, ignoreIndex);
    const loss = this.alloc(rows, 'float32'), valid = this.alloc(rows, 'float32');
    this.native('crossEntropy');
    if (rows > 0) runRows(this.rt, 'ce_rows', rows, cols, [this.ptr(logits), this.ptr(targets), loss.ptr, valid.ptr], [cols, ignoreIndex]);
    return { loss, valid };
  }
  crossEntropyGrad(logits: Storage, targets: Storage, gLoss: Storage, rows: number, cols: number, ignoreIndex: number): Storage {
    this.f32(logits, 'cross_entropy'); this.f32(gLoss, 'cross_entropy');
    checkTargets(this.i32(targets, 'cross_entropy'), rows, cols, ignoreIndex);
    const out = this.alloc(rows * cols, 'float32');
    this.native('crossEntropyGrad');
    if (out.size > 0) runRows(this.rt, 'ce_grad_rows', rows, cols, [this.ptr(logits), this.ptr(targets), this.ptr(gLoss), out.ptr], [cols, ignoreIndex]);
    return out;
  }
  attention(q0: Storage, k0: Storage, v0: Storage, args: AttentionArgs): { out: Storage; lse: Storage } {
    const temps: Storage[] = []; // float16 q/k/v widened for the float32 kernels, as in matmul
    const q = this.asF32(q0, temps), k = this.asF32(k0, temps), v = this.asF32(v0, temps);
    try { return this.attentionF32(q, k, v, args); } finally { for (const t of temps) this.free(t); }
  }
  private attentionF32(q: Storage, k: Storage, v: Storage, args: AttentionArgs): { out: Storage; lse: Storage } {
    const out = this.alloc(args.batch * args.heads * args.tq * args.dimV, 'float32'), lse = this.alloc(args.batch * args.heads * args.tq, 'float32');
    if (lse.size > 0 && args.tk > 0 && args.dim > 0 && args.dimV > 0) {
      this.native('attention');
      for (const s of [q, k, v]) this.f32(s, 'attention');
      attentionForward(this.rt, this.scratch, { q: this.ptr(q), k: this.ptr(k), v: this.ptr(v), mask: args.mask ? this.ptr(args.mask) : 0 }, out.ptr, lse.ptr, args);
      return { out, lse };
    }
    this.fallback('attention');
    ref.attention(this.f32(q, 'attention'), this.f32(k, 'attention'), this.f32(v, 'attention'), args.mask ? this.f32(args.mask, 'attention mask') : undefined,
      args, this.f32(out, ''), this.f32(lse, ''));
    return { out, lse };
  }
  attentionGrad(q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, gOut: Storage, args: AttentionArgs): { gq: Storage; gk: Storage; gv: Storage } {
    const native = q.size > 0 && args.tk > 0 && args.dim > 0 && args.dimV > 0;
    // The native kernel overwrites every row of gq (and accumulates gk, gv); the reference adds to all three.
    const gq = native ? this.alloc(q.size, 'float32') : this.zeros(q.size, 'float32'), gk = this.zeros(k.size, 'float32'), gv = this.zeros(v.size, 'float32');
    if (native) {
      this.native('attentionGrad');
      for (const s of [q, k, v, out, lse, gOut]) this.f32(s, 'attention');
      attentionBackward(this.rt, this.scratch, {
        q: this.ptr(q), k: this.ptr(k), v: this.ptr(v), mask: args.mask ? this.ptr(args.mask) : 0,
        out: this.ptr(out), lse: this.ptr(lse), gOut: this.ptr(gOut), gq: this.ptr(gq), gk: this.ptr(gk), gv: this.ptr(gv),
      }, args);
      return { gq, gk, gv };
    }
    this.fallback('attentionGrad');
    ref.attentionGrad(this.f32(q, 'attention'), this.f32(k, 'attention'), this.f32(v, 'attention'), this.f32(out, 'attention'), this.f32(lse, 'attention'),
      this.f32(gOut, 'attention'), args.mask ? this.f32(args.mask, 'attention mask') : undefined, args, this.f32(gq, ''), this.f32(gk, ''), this.f32(gv, ''));
    return { gq, gk, gv };
  }
  rope(x: Storage, cos: Storage, sin: Storage, b: number, h: number, t: number, d: number, inverse: boolean): Storage {
    const out = this.alloc(x.size, 'float32');
    for (const s of [x, cos, sin]) this.f32(s, 'rope');
    if (d % 2 === 0) {
      this.native('rope');
      const fn = this.rt.kernels('rope', emitRope).rope_rows!.id;
      this.rt.run(splitRange(b * h * t, this.rt.threads, Math.ceil((1 << 15) / Math.max(1, d)),
        (r0, r1) => ({ fn, args: [this.ptr(x), this.ptr(cos), this.ptr(sin), out.ptr, r0, r1, h, t, d, inverse ? 1 : 0] })));
      return out;
    }
    this.fallback('rope');
    ref.rope(this.f32(x, 'rope'), this.f32(cos, 'rope'), this.f32(sin, 'rope'), b, h, t, d, inverse, this.f32(out, 'rope'));
    return out;
  }
  conv2d(x: Storage, w: Storage, bias: Storage | undefined, args: Conv2dArgs): Storage {
    const out = this.alloc(args.n * args.o * args.oh * args.ow, 'float32');
    for (const s of [x, w]) this.f32(s, 'conv2d');
    if (bias) this.f32(bias, 'conv2d bias');
    if (out.size > 0 && args.c > 0) {
      this.native('conv2d');
      conv2dForward(this.rt, this.scratch, this.ptr(x), this.ptr(w), bias ? this.ptr(bias) : 0, out.ptr, args);
      return out;
    }
    this.fallback('conv2d');
    ref.conv2d(this.f32(x, 'conv2d'), this.f32(w, 'conv2d'), bias ? this.f32(bias, 'conv2d bias') : undefined, args, this.f32(out, ''));
    return out;
  }
  conv2dGradInput(gy: Storage, w: Storage, args: Conv2dArgs): Storage {
    for (const s of [gy, w]) this.f32(s, 'conv2d');
    if (args.n * args.o * args.oh * args.ow > 0 && args.c > 0 && args.o > 0) {
      const gx = this.alloc(args.n * args.c * args.h * args.w, 'float32');
      this.native('conv2dGradInput');
      conv2dGradInput(this.rt, this.scratch, this.ptr(gy), this.ptr(w), gx.ptr, args);
      return gx;
    }
    const out = this.zeros(args.n * args.c * args.h * args.w, 'float32');
    this.fallback('conv2dGradInput');
    ref.conv2dGradInput(this.f32(gy, 'conv2d'), this.f32(w, 'conv2d'), args, this.f32(out, ''));
    return out;
  }
  conv2dGradWeight(x: Storage, gy: Storage, args: Conv2dArgs): Storage {
    const out = this.alloc(args.o * args.c * args.kh * args.kw, 'float32');
    for (const s of [x, gy]) this.f32(s, 'conv2d');
    if (out.size > 0 && args.n > 0 && args.oh * args.ow > 0) {
      this.native('conv2dGradWeight');
      conv2dGradWeight(this.rt, this.scratch, this.ptr(x), this.ptr(gy), out.ptr, args);
      return out;
    }
    this.fallback('conv2dGradWeight');
    ref.conv2dGradWeight(this.f32(x, 'conv2d'), this.f32(gy, 'conv2d'), args, this.f32(out, ''));
    return out;
  }

  // --- randomness and optimizers ------------------------------------------------------------------

  random(size: number, kind: 'uniform' | 'normal', key: number, counter: number): Storage {
    // The counter-based draws of random_bits.ts, evaluated in place (bit-identical by construction).
    const out = this.alloc(size, 'float32'), o = this.f32(out, 'random'), at = kind === 'uniform' ? uniformAt : normalAt;
    for (let i = 0; i < size; i++) o[i] = at(key, counter + i);
    return out;
  }
  combineRows(inputs: readonly Storage[], coefs: readonly Storage[], rows: number, cols: number): Storage {
    this.fallback('combineRows');
    const out = this.alloc(rows * cols, 'float32');
    ref.combineRows(inputs.map((s) => this.f32(s, 'combineRows')), coefs.map((s) => this.f32(s, 'combineRows')), rows, cols, this.f32(out, 'combineRows'));
    return out;
  }
  adamwInPlace(param: Storage, grad: Storage, m: Storage, v: Storage, a: AdamWArgs): void {
    for (const s of [param, grad, m, v]) this.f32(s, 'adamw');
    this.native('adamwInPlace');
    // Scalars as PyTorch computes them (in float64), rounded once to float32 for the kernel.
    const bc1 = 1 - Math.pow(a.beta1, a.step), bc2 = 1 - Math.pow(a.beta2, a.step);
    this.rt.run(flatCalls(this.rt, elementwiseKernels(this.rt).adamw!, [this.ptr(param), this.ptr(grad), this.ptr(m), this.ptr(v)], param.size,
      [a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.lr / bc1, Math.sqrt(bc2), 1 - a.lr * a.weightDecay, a.eps]));
  }
}
