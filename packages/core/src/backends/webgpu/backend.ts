// The WebGPU backend: the Backend interface on top of the runtime and the kernels in ops/.
import type {
  AdamWArgs, AttentionArgs, Backend, BackendInfo, BinaryOp, Conv2dArgs, DifferentiableUnaryOp, DType, HostArray, MatmulArgs,
  ReduceOp, ReduceShape, Storage, StridedView, UnaryOp,
} from '../../backend.ts';
import { acquireDevice, type AcquireOptions } from './device.ts';
import * as att from './ops/attention.ts';
import * as conv from './ops/conv.ts';
import * as ew from './ops/elementwise.ts';
import * as idx from './ops/indexing.ts';
import * as layout from './ops/layout.ts';
import * as mm from './ops/matmul.ts';
import * as nn from './ops/nn.ts';
import * as red from './ops/reduce.ts';
import { Fusion } from './fusion.ts';
import type { GpuProfileRow } from './profile.ts';
import { WebGPURuntime } from './runtime.ts';
import { asGPU, asGPULazy } from './storage.ts';

export interface WebGPUBackendOptions extends AcquireOptions {
  /** Override the matmul register tiling (benchmarks/tuning); default picks by adapter. */
  matmulTiling?: mm.MatmulTiling;
  /** Override the attention register tiling (benchmarks/tuning). */
  attentionTiling?: att.AttentionTiling;
  /** Override the conv2d register tiling (benchmarks/tuning). */
  convTiling?: conv.ConvTiling;
  /** Fuse chains of float32 elementwise ops into generated kernels (fusion.ts); default true. */
  fuseElementwise?: boolean;
  /** Row kernels (softmax, normalize, cross-entropy): a workgroup or an invocation per row;
   * default 'auto' (by adapter and shape, see WebGPURuntime.rowsPerInvocation). */
  rowKernels?: 'auto' | 'workgroup' | 'invocation';
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly tiling: mm.MatmulTiling;
  readonly attentionTiling: att.AttentionTiling;
  readonly convTiling: conv.ConvTiling;
  readonly fusion: Fusion;
  constructor(readonly rt: WebGPURuntime, opts: Pick<WebGPUBackendOptions, 'matmulTiling' | 'attentionTiling' | 'convTiling' | 'fuseElementwise'> = {}) {
    this.fusion = new Fusion(rt, opts.fuseElementwise ?? true);
    this.convTiling = opts.convTiling ?? conv.DEFAULT_CONV_TILING;
    this.tiling = opts.matmulTiling ?? mm.defaultTiling(rt);
    this.attentionTiling = opts.attentionTiling ?? att.DEFAULT_ATTENTION_TILING;
  }

  info(): BackendInfo {
    const d = this.rt.acquired.info;
    return {
      name: 'webgpu',
      summary: `WebGPU ${d.description !== '?' ? d.description : d.device} (${d.vendor}) via ${d.backend}`,
      details: { ...d, maxBindingUsed: String(this.rt.maxBinding) },
    };
  }

  // --- memory -----------------------------------------------------------------------------
  zeros(size: number, dtype: DType): Storage {
    const s = this.rt.alloc(size, dtype);
    this.rt.clear(s);
    return s;
  }
  fromArray(data: HostArray): Storage { return this.rt.upload(data); }
  read(s: Storage): Promise<Float32Array | Int32Array> { return this.rt.read(asGPU(s)); }
  readSync(_s: Storage): Float32Array | Int32Array {
    throw new Error('webgpu backend: readSync is not possible (GPU memory is read asynchronously); use `await tensor.data()`');
  }
  free(s: Storage): void { this.fusion.free(asGPULazy(s)); }
  memory(): { liveStorages: number; liveBytes: number; pooledBytes?: number } {
    return { liveStorages: this.rt.liveStorages, liveBytes: this.rt.liveBytes, pooledBytes: this.rt.pooledBytes };
  }
  async sync(): Promise<void> { this.fusion.materialiseAll(); await this.rt.sync(); }

  // --- elementwise --------------------------------------------------------------------------
  fill(size: number, dtype: DType, value: number): Storage { return ew.fill(this.rt, size, dtype, value); }
  cast(x: Storage, dtype: DType): Storage { return ew.cast(this.rt, asGPU(x), dtype); }
  // unary, unaryGrad and binary return a pending storage when fusion.ts's rule allows.
  unary(op: UnaryOp, x: Storage): Storage {
    return this.fusion.unary(op, asGPULazy(x)) ?? ew.unary(this.rt, op, asGPU(x));
  }
  unaryGrad(op: DifferentiableUnaryOp, x: Storage, gy: Storage): Storage {
    return this.fusion.unaryGrad(op, asGPULazy(x), asGPULazy(gy)) ?? ew.unaryGrad(this.rt, op, asGPU(x), asGPU(gy));
  }
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[],
    outShape: readonly number[], outDtype: DType): Storage {
    const n = outShape.reduce((p, d) => p * d, 1);
    return this.fusion.binary(op, asGPULazy(a), asGPULazy(b), n, outDtype === 'float32')
      ?? ew.binary(this.rt, op, asGPU(a), aShape, asGPU(b), bShape, outShape, outDtype);
  }
  where(cond: Storage, condShape: readonly number[], a: Storage, aShape: readonly number[],
    b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage {
    return ew.where(this.rt, asGPU(cond), condShape, asGPU(a), aShape, asGPU(b), bShape, outShape);
  }

  // --- layout ---------------------------------------------------------------------------
  gatherStrided(x: Storage, view: StridedView): Storage { return layout.gatherStrided(this.rt, asGPU(x), view); }
  scatterStridedInto(dst: Storage, view: StridedView, src: Storage): void {
    const d = asGPU(dst, 'dst'), s = asGPU(src, 'src');
    this.fusion.beforeWrite(d);
    layout.scatterStridedInto(this.rt, d, view, s);
  }

  // --- reductions ---------------------------------------------------------------------------
  reduce(op: ReduceOp, x: Storage, shape: ReduceShape): Storage { return red.reduce(this.rt, op, asGPU(x), shape); }

  // --- indexing -----------------------------------------------------------------------------
  indexSelect(x: Storage, shape: ReduceShape, ids: Storage): Storage { return idx.indexSelect(this.rt, asGPU(x), shape, asGPU(ids, 'ids')); }
  indexAdd(g: Storage, shape: ReduceShape, ids: Storage): Storage { return idx.indexAdd(this.rt, asGPU(g), shape, asGPU(ids, 'ids')); }
  takeAlongAxis(x: Storage, shape: ReduceShape, i: Storage, k: number): Storage {
    return idx.takeAlongAxis(this.rt, asGPU(x), shape, asGPU(i, 'idx'), k);
  }
  takeAlongAxisGrad(g: Storage, shape: ReduceShape, i: Storage, k: number): Storage {
    return idx.takeAlongAxisGrad(this.rt, asGPU(g), shape, asGPU(i, 'idx'), k);
  }

  // --- linear algebra -----------------------------------------------------------------------
  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage {
    return mm.matmul(this.rt, asGPU(a, 'a'), asGPU(b, 'b'), args, args.bias ? asGPU(args.bias, 'bias') : undefined, this.tiling);
  }

  // --- fused neural-network kernels -------------------------------------------------------
  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage { return nn.softmax(this.rt, asGPU(x), rows, cols, log); }
  softmaxGrad(y: Storage, gy: Storage, rows: number, cols: number, log: boolean): Storage {
    return nn.softmaxGrad(this.rt, asGPU(y), asGPU(gy), rows, cols, log);
  }
  normalize(x: Storage, rows: number, cols: number, eps: number, rms: boolean): { y: Storage; mean: Storage; rstd: Storage } {
    return nn.normalize(this.rt, asGPU(x), rows, cols, eps, rms);
  }
  normalizeGrad(xhat: Storage, rstd: Storage, gy: Storage, rows: number, cols: number, rms: boolean): Storage {
    return nn.normalizeGrad(this.rt, asGPU(xhat), asGPU(rstd), asGPU(gy), rows, cols, rms);
  }
  crossEntropy(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number): { loss: Storage; valid: Storage } {
    return nn.crossEntropy(this.rt, asGPU(logits), asGPU(targets), rows, cols, ignoreIndex);
  }
  crossEntropyGrad(logits: Storage, targets: Storage, gLoss: Storage, rows: number, cols: number, ignoreIndex: number): Storage {
    return nn.crossEntropyGrad(this.rt, asGPU(logits), asGPU(targets), asGPU(gLoss), rows, cols, ignoreIndex);
  }
  attention(q: Storage, k: Storage, v: Storage, args: AttentionArgs): { out: Storage; lse: Storage } {
    return att.attention(this.rt, asGPU(q), asGPU(k), asGPU(v), args.mask ? asGPU(args.mask) : undefined, args, this.attentionTiling);
  }
  attentionGrad(q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, gOut: Storage, args: AttentionArgs): { gq: Storage; gk: Storage; gv: Storage } {
    return att.attentionGrad(this.rt, asGPU(q), asGPU(k), asGPU(v), args.mask ? asGPU(args.mask) : undefined, asGPU(out), asGPU(lse), asGPU(gOut), args, this.attentionTiling);
  }
  rope(x: Storage, cos: Storage, sin: Storage, b: number, h: number, t: number, d: number, inverse: boolean): Storage {
    return nn.rope(this.rt, asGPU(x), asGPU(cos), asGPU(sin), b, h, t, d, inverse);
  }
  conv2d(x: Storage, w: Storage, bias: Storage | undefined, args: Conv2dArgs): Storage {
    return conv.conv2d(this.rt, asGPU(x), asGPU(w), bias ? asGPU(bias) : undefined, args, this.convTiling);
  }
  conv2dGradInput(gy: Storage, w: Storage, args: Conv2dArgs): Storage { return conv.conv2dGradInput(this.rt, asGPU(gy), asGPU(w), args, this.convTiling); }
  conv2dGradWeight(x: Storage, gy: Storage, args: Conv2dArgs): Storage { return conv.conv2dGradWeight(this.rt, asGPU(x), asGPU(gy), args, this.convTiling); }

  // --- randomness -------------------------------------------------------------------------
  random(size: number, kind: 'uniform' | 'normal', key: number, counter: number): Storage {
    return nn.random(this.rt, size, kind, key, counter);
  }

  // --- optimizers ---------------------------------------------------------------------------
  combineRows(inputs: readonly Storage[], coefs: readonly Storage[], rows: number, cols: number): Storage {
    return nn.combineRows(this.rt, inputs.map((s) => asGPU(s, 'combineRows input')), coefs.map((s) => asGPU(s, 'combineRows coefficient')), rows, cols);
  }
  adamwInPlace(param: Storage, grad: Storage, m: Storage, v: Storage, args: AdamWArgs): void {
    const pg = asGPU(param, 'param'), gg = asGPU(grad, 'grad'), mg = asGPU(m, 'm'), vg = asGPU(v, 'v');
    for (const s of [pg, mg, vg]) this.fusion.beforeWrite(s);
    nn.adamwInPlace(this.rt, pg, gg, mg, vg, args);
  }

  /** GPU time per kernel and op since creation (or the last reset), when profiling is on
   * (`profile: true` or RECONVLA_DEBUG=webgpu-profile); null otherwise. Complete up to the last
   * read or sync. */
  profileReport(): GpuProfileRow[] | null { return this.rt.profiler?.report() ?? null; }

  /** Releases the pooled buffers and the device. */
  destroy(): void { this.rt.destroy(); }
}

export async function createWebGPUBackend(opts: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  const acquired = await acquireDevice(opts);
  const rt = new WebGPURuntime(acquired);
  rt.rowKernels = opts.rowKernels ?? 'auto';
  if (opts.profile === undefined && rt.profiler) {
    const profiler = rt.profiler;
    process.once('exit', () => process.stderr.write(`reconvla webgpu profile (GPU time from timestamp queries, up to the last read):\n${profiler.format()}\n`));
  }
  return new WebGPUBackend(rt, opts);
}
