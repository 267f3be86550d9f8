// The WebGPU backend: the Backend interface on top of the runtime and the kernels in ops/.
import type {
  AdamWArgs, AttentionArgs, Backend, BackendInfo, BinaryOp, Conv2dArgs, DifferentiableUnaryOp, DType, MatmulArgs,
  ReduceOp, ReduceShape, Storage, StridedView, UnaryOp,
} from '../../backend.ts';
import { acquireDevice, type AcquireOptions } from './device.ts';
import * as ew from './ops/elementwise.ts';
import { WebGPURuntime } from './runtime.ts';
import { asGPU } from './storage.ts';

export interface WebGPUBackendOptions extends AcquireOptions {}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  constructor(readonly rt: WebGPURuntime) {}

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
  fromArray(data: Float32Array | Int32Array): Storage { return this.rt.upload(data); }
  read(s: Storage): Promise<Float32Array | Int32Array> { return this.rt.read(asGPU(s)); }
  readSync(_s: Storage): Float32Array | Int32Array {
    throw new Error('webgpu backend: readSync is not possible (GPU memory is read asynchronously); use `await tensor.data()`');
  }
  free(s: Storage): void { this.rt.free(asGPU(s)); }
  memory(): { liveStorages: number; liveBytes: number; pooledBytes?: number } {
    return { liveStorages: this.rt.liveStorages, liveBytes: this.rt.liveBytes, pooledBytes: this.rt.pooledBytes };
  }
  sync(): Promise<void> { return this.rt.sync(); }

  // --- elementwise --------------------------------------------------------------------------
  fill(size: number, dtype: DType, value: number): Storage { return ew.fill(this.rt, size, dtype, value); }
  cast(x: Storage, dtype: DType): Storage { return ew.cast(this.rt, asGPU(x), dtype); }
  unary(op: UnaryOp, x: Storage): Storage { return ew.unary(this.rt, op, asGPU(x)); }
  unaryGrad(op: DifferentiableUnaryOp, x: Storage, gy: Storage): Storage { return ew.unaryGrad(this.rt, op, asGPU(x), asGPU(gy)); }
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[],
    outShape: readonly number[], outDtype: DType): Storage {
    return ew.binary(this.rt, op, asGPU(a), aShape, asGPU(b), bShape, outShape, outDtype);
  }
  where(cond: Storage, condShape: readonly number[], a: Storage, aShape: readonly number[],
    b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage {
    return ew.where(this.rt, asGPU(cond), condShape, asGPU(a), aShape, asGPU(b), bShape, outShape);
  }
