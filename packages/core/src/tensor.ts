// The Tensor: a shape, a dtype and a reference-counted backend storage, plus what reverse-mode
// autograd needs (requiresGrad, the node that produced it, the accumulated .grad).
// Ops are plain functions in ops/; the methods here only forward to them.
import type { Backend, DType, Storage } from './backend.ts';
import { engine } from './engine.ts';
import type { Shape } from './shape.ts';
import { shapeStr, sizeOf } from './shape.ts';
import * as F from './ops/index.ts';
import { backward as runBackward } from './autograd.ts';
import { encodeF16 } from './half.ts';

/** A storage shared by a tensor and its reshaped views. */
export class TensorData {
  refs = 0;
  constructor(readonly backend: Backend, readonly storage: Storage) {}
  retain(): void { this.refs++; }
  release(): void {
    if (--this.refs === 0) this.backend.free(this.storage);
  }
}

/** How a tensor was made, for the backward pass. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients for each input given the output's gradient (null where none is needed). */
  backward(gy: Tensor): (Tensor | null)[];
}

// Storages of tensors that are garbage-collected without dispose() are freed here, so code
// that forgets tidy() degrades to GC timing instead of leaking device memory forever.
const finalizer = new FinalizationRegistry<TensorData>((d) => d.release());

let nextId = 0;
/** Tensors created and not disposed yet (Tensor.liveCount). */
let undisposed = 0;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  private _dtype: DType;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that produced this tensor (null for leaves and outside grad recording). */
  node: GradNode | null = null;
  /** Optional name, used in error messages (parameters get their state-dict key). */
  name?: string;
  private _data: TensorData;
  private _disposed = false;

  /** Internal: wraps a storage. Use tensor(), zeros(), ... to create tensors. */
  constructor(data: TensorData, shape: Shape, dtype: DType) {
    if (sizeOf(shape) !== data.storage.size) {
      throw new Error(`internal: shape ${shapeStr(shape)} does not match a storage of ${data.storage.size} elements`);
    }
    this._data = data;
    this.shape = Object.freeze([...shape]);
    this._dtype = dtype;
    data.retain();
    finalizer.register(this, data, this);
    engine.track(this);
    undisposed++;
  }

  /**
   * Tensors created and not disposed yet, for leak tests. Unlike a backend's live storages it
   * does not drop when the garbage collector frees a forgotten tensor's storage, so a leak that
   * only GC timing cleans up still shows.
   */
  static get liveCount(): number { return undisposed; }

  static fromStorage(backend: Backend, storage: Storage, shape: Shape): Tensor {
    return new Tensor(new TensorData(backend, storage), shape, storage.dtype);
  }

  get dtype(): DType { return this._dtype; }
  get backend(): Backend { return this.data_().backend; }
  get storage(): Storage { return this.data_().storage; }
  /** Internal: the shared storage holder (reshape views share it). */
  data_(): TensorData {
    if (this._disposed) throw new Error(`tensor${this.name ? ` "${this.name}"` : ''} ${shapeStr(this.shape)} was used after dispose()`);
    return this._data;
  }
  get size(): number { return sizeOf(this.shape); }
  get rank(): number { return this.shape.length; }
  get isDisposed(): boolean { return this._disposed; }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    undisposed--;
    finalizer.unregister(this);
    this._data.release();
    this.node = null;
  }

  /** Replaces this tensor's contents with src's (same shape), keeping identity: how optimizers update parameters. */
  assign(src: Tensor): this {
    if (src.dtype !== this.dtype) {
      throw new Error(`assign: ${this.name ?? 'tensor'} is ${shapeStr(this.shape)} ${this.dtype}, got ${shapeStr(src.shape)} ${src.dtype}`);
    }
    return this.replaceData_(src);
  }

  /** Internal: like assign, but takes src's dtype too (Module.half() stores a weight as float16
   * while the layers holding it keep their reference). */
  replaceData_(src: Tensor): this {
    if (src.shape.join() !== this.shape.join()) {
      throw new Error(`assign: ${this.name ?? 'tensor'} is ${shapeStr(this.shape)} ${this.dtype}, got ${shapeStr(src.shape)} ${src.dtype}`);
    }
    if (src.dtype === 'float16' && this.requiresGrad) {
      throw new Error(`assign: ${this.name ?? 'tensor'} ${shapeStr(this.shape)} requires grad and cannot become float16 (freeze it first)`);
    }
    const d = src.data_();
    if (d.backend !== this._data.backend) throw new Error(`assign: ${this.name ?? 'tensor'} is on ${this._data.backend.name}, the source on ${d.backend.name}`);
    d.retain();
    finalizer.unregister(this);
    this._data.release();
    this._data = d;
    finalizer.register(this, d, this);
    this._dtype = src.dtype;
    return this;
  }

  // --- reading values ------------------------------------------------------------------------
  /** The values as a flat typed array (copies from the device); float16 reads as float32 values. */
  async data(): Promise<Float32Array | Int32Array> { return this.backend.read(this.storage); }
  /** Synchronous read, only for host-memory backends (cpu, wasm). */
  dataSync(): Float32Array | Int32Array { return this.backend.readSync(this.storage); }
  async item(): Promise<number> { return itemOf(this, await this.data()); }
  itemSync(): number { return itemOf(this, this.dataSync()); }
  /** Nested JS arrays, like torch's tolist(). */
  async array(): Promise<unknown> { return nest(await this.data(), this.shape); }
  arraySync(): unknown { return nest(this.dataSync(), this.shape); }
  toString(): string { return `Tensor(${shapeStr(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`; }

  // --- autograd ------------------------------------------------------------------------------
  requiresGrad_(flag = true): this {
    if (flag && this.dtype === 'float16') {
      throw new Error(`requiresGrad: ${this.name ? `"${this.name}" ` : ''}${shapeStr(this.shape)} is float16, a storage dtype for frozen weights; `
        + 'gradients are float32 only (train a float32 copy: astype(\'float32\'))');
    }
    if (flag && this.dtype !== 'float32') throw new Error(`requiresGrad: only float32 tensors can require gradients, got ${this.dtype}`);
    this.requiresGrad = flag;
    return this;
  }
  /** Accumulates d this / d leaves into every leaf's .grad. this must be a scalar unless gradient is given. */
  backward(gradient?: Tensor): void { runBackward(this, gradient); }
  /** A tensor sharing the storage but cut from the graph. */
  detach(): Tensor { return F.detach(this); }
  zeroGrad(): void { if (this.grad) { this.grad.dispose(); this.grad = null; } }

  // --- ops (see ops/ for the definitions) -------------------------------------------------------
  add(o: Tensor | number): Tensor { return F.add(this, o); }
  sub(o: Tensor | number): Tensor { return F.sub(this, o); }
  mul(o: Tensor | number): Tensor { return F.mul(this, o); }
  div(o: Tensor | number): Tensor { return F.div(this, o); }
  pow(o: Tensor | number): Tensor { return F.pow(this, o); }
  maximum(o: Tensor | number): Tensor { return F.maximum(this, o); }
  minimum(o: Tensor | number): Tensor { return F.minimum(this, o); }
  eq(o: Tensor | number): Tensor { return F.eq(this, o); }
  ne(o: Tensor | number): Tensor { return F.ne(this, o); }
  lt(o: Tensor | number): Tensor { return F.lt(this, o); }
  le(o: Tensor | number): Tensor { return F.le(this, o); }
  gt(o: Tensor | number): Tensor { return F.gt(this, o); }
  ge(o: Tensor | number): Tensor { return F.ge(this, o); }
  neg(): Tensor { return F.neg(this); }
  exp(): Tensor { return F.exp(this); }
  log(): Tensor { return F.log(this); }
  sqrt(): Tensor { return F.sqrt(this); }
  rsqrt(): Tensor { return F.rsqrt(this); }
  abs(): Tensor { return F.abs(this); }
  tanh(): Tensor { return F.tanh(this); }
  sigmoid(): Tensor { return F.sigmoid(this); }
  silu(): Tensor { return F.silu(this); }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return F.gelu(this, approximate); }
  relu(): Tensor { return F.relu(this); }
  square(): Tensor { return F.square(this); }
  sin(): Tensor { return F.sin(this); }
  cos(): Tensor { return F.cos(this); }
  astype(dtype: DType): Tensor { return F.astype(this, dtype); }

  reshape(...shape: (number | number[])[]): Tensor { return F.reshape(this, shape.flat()); }
  view(...shape: (number | number[])[]): Tensor { return F.reshape(this, shape.flat()); }
  flatten(startDim = 0, endDim = -1): Tensor { return F.flatten(this, startDim, endDim); }
  unsqueeze(dim: number): Tensor { return F.unsqueeze(this, dim); }
  squeeze(dim?: number): Tensor { return F.squeeze(this, dim); }
  permute(...dims: (number | number[])[]): Tensor { return F.permute(this, dims.flat()); }
  transpose(d0 = -2, d1 = -1): Tensor { return F.transpose(this, d0, d1); }
  get T(): Tensor { return F.transpose(this, -2, -1); }
  slice(dim: number, start: number, end?: number, step = 1): Tensor { return F.slice(this, dim, start, end, step); }
  expand(...shape: (number | number[])[]): Tensor { return F.expand(this, shape.flat()); }
  repeat(...reps: (number | number[])[]): Tensor { return F.repeat(this, reps.flat()); }
  contiguous(): Tensor { return this; }
  chunk(chunks: number, dim = 0): Tensor[] { return F.chunk(this, chunks, dim); }
  split(size: number, dim = 0): Tensor[] { return F.split(this, size, dim); }
  gather(dim: number, index: Tensor): Tensor { return F.gather(this, dim, index); }
  indexSelect(dim: number, index: Tensor): Tensor { return F.indexSelect(this, dim, index); }
  maskedFill(mask: Tensor, value: number): Tensor { return F.maskedFill(this, mask, value); }

  sum(dim?: number | number[], keepdim = false): Tensor { return F.sum(this, dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return F.mean(this, dim, keepdim); }
  max(dim?: number, keepdim = false): Tensor { return F.max(this, dim, keepdim); }
  min(dim?: number, keepdim = false): Tensor { return F.min(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return F.argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return F.argmin(this, dim, keepdim); }

  matmul(o: Tensor): Tensor { return F.matmul(this, o); }
  softmax(dim = -1): Tensor { return F.softmax(this, dim); }
  logSoftmax(dim = -1): Tensor { return F.logSoftmax(this, dim); }

  /** Copies this tensor to another backend (no gradient flows across). */
  async to(backend: Backend): Promise<Tensor> {
    if (backend === this.backend) return this;
    const data = await this.data();
    // float16 values read back as float32 are exact halves: re-encoding them is lossless.
    return Tensor.fromStorage(backend, backend.fromArray(this.dtype === 'float16' ? encodeF16(data as Float32Array) : data), this.shape);
  }
}

function itemOf(t: Tensor, d: Float32Array | Int32Array): number {
  if (d.length !== 1) throw new Error(`item(): tensor has ${d.length} elements (shape ${shapeStr(t.shape)}), expected 1`);
  return d[0]!;
}

function nest(d: Float32Array | Int32Array, shape: Shape): unknown {
  if (shape.length === 0) return d[0];
  const rec = (off: number, dim: number): unknown => {
    const n = shape[dim]!;
    if (dim === shape.length - 1) return Array.from(d.subarray(off, off + n));
    const stride = sizeOf(shape.slice(dim + 1));
    return Array.from({ length: n }, (_, i) => rec(off + i * stride, dim + 1));
  };
  return rec(0, 0);
}
