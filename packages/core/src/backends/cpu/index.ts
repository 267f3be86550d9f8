// The pure-TypeScript CPU backend: the reference every other backend is tested against.
// Storages are typed arrays on the host; kernels live in the files beside this one.
import type {
  AdamWArgs, AttentionArgs, Backend, BackendInfo, BinaryOp, Conv2dArgs, DifferentiableUnaryOp, DType, HostArray, MatmulArgs,
  ReduceOp, ReduceShape, Storage, StridedView, UnaryOp,
} from '../../backend.ts';
import { decodeF16, encodeF16 } from '../../half.ts';
import { normalAt, uniformAt } from '../../random_bits.ts';
import { attention, attentionGrad } from './attention.ts';
import { combineRows } from './combine_rows.ts';
import { conv2d, conv2dGradInput, conv2dGradWeight } from './conv2d.ts';
import { binary, unary, unaryGrad, where } from './elementwise.ts';
import { indexAdd, indexSelect, takeAlongAxis, takeAlongAxisGrad } from './indexing.ts';
import { gatherStrided, scatterStrided } from './layout.ts';
import { matmul } from './matmul.ts';
import { crossEntropy, crossEntropyGrad, normalize, normalizeGrad, softmax, softmaxGrad } from './nn.ts';
import { reduce } from './reduce.ts';
import { rope } from './rope.ts';

export class CpuStorage implements Storage {
  readonly backend = 'cpu';
  /** A Uint16Array holds float16 bit patterns. */
  constructor(readonly data: HostArray) {}
  get dtype(): DType { return this.data instanceof Float32Array ? 'float32' : this.data instanceof Int32Array ? 'int32' : 'float16'; }
  get size(): number { return this.data.length; }
}

/** A typed array for a storage of dtype; compute kernels write float32 where a float16 dtype
 * would be passed through (the tensor layer hands them float32 only). */
function alloc(size: number, dtype: DType): Float32Array | Int32Array {
  return dtype === 'int32' ? new Int32Array(size) : new Float32Array(size);
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  private live = 0;
  private liveBytes = 0;

  info(): BackendInfo {
    return { name: 'cpu', summary: 'pure TypeScript reference (single thread)' };
  }

  private wrap(data: HostArray): CpuStorage {
    this.live++;
    this.liveBytes += data.byteLength;
    return new CpuStorage(data);
  }

  /** The typed array behind a float32 or int32 storage of this backend (kernels other than
   * matmul, attention, indexSelect and cast never see float16: the tensor layer casts first). */
  arr(s: Storage): Float32Array | Int32Array {
    if (!(s instanceof CpuStorage)) throw new TypeError(`cpu backend got a storage of backend '${s.backend}'`);
    if (s.data instanceof Uint16Array) throw new TypeError('cpu backend: a float16 storage reached a float32/int32 kernel (cast it to float32 first)');
    return s.data;
  }
  private f32(s: Storage, what: string): Float32Array {
    const a = this.arr(s);
    if (!(a instanceof Float32Array)) throw new TypeError(`${what}: expected float32, got ${s.dtype}`);
    return a;
  }
  /** float32 values of a float32 or float16 operand (float16 is decoded: one copy per call). */
  private f32or16(s: Storage, what: string): Float32Array {
    if (s instanceof CpuStorage && s.data instanceof Uint16Array) return decodeF16(s.data);
    return this.f32(s, what);
  }
  private i32(s: Storage, what: string): Int32Array {
    const a = this.arr(s);
    if (!(a instanceof Int32Array)) throw new TypeError(`${what}: expected int32 indices, got ${s.dtype}`);
    return a;
  }

  zeros(size: number, dtype: DType): Storage { return this.wrap(dtype === 'float16' ? new Uint16Array(size) : alloc(size, dtype)); }
  fromArray(data: HostArray): Storage { return this.wrap(data); }
  async read(s: Storage): Promise<Float32Array | Int32Array> { return this.readSync(s); }
  readSync(s: Storage): Float32Array | Int32Array {
    if (s instanceof CpuStorage && s.data instanceof Uint16Array) return decodeF16(s.data);
    return this.arr(s).slice();
  }
  free(s: Storage): void {
    if (!(s instanceof CpuStorage)) throw new TypeError(`cpu backend got a storage of backend '${s.backend}'`);
    this.live--;
    this.liveBytes -= s.data.byteLength;
  }
  memory(): { liveStorages: number; liveBytes: number } { return { liveStorages: this.live, liveBytes: this.liveBytes }; }
  async sync(): Promise<void> {}

  fill(size: number, dtype: DType, value: number): Storage {
    if (dtype === 'float16') return this.wrap(encodeF16(new Float32Array(size).fill(value)));
    return this.wrap(alloc(size, dtype).fill(value));
  }
  cast(x: Storage, dtype: DType): Storage {
    if (x.dtype === 'float16' || dtype === 'float16') {
      if (x.dtype === 'int32' || dtype === 'int32') throw new TypeError(`cast: ${x.dtype} -> ${dtype} goes through float32 (the tensor layer does that)`);
      if (x.dtype === dtype) return this.wrap((x as CpuStorage).data.slice());
      return this.wrap(dtype === 'float16' ? encodeF16(this.f32(x, 'cast')) : this.f32or16(x, 'cast'));
    }
    const src = this.arr(x), out = alloc(src.length, dtype);
    if (dtype === 'int32') for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]!);
    else out.set(src);
    return this.wrap(out);
  }
  unary(op: UnaryOp, x: Storage): Storage {
    const src = this.arr(x), out = alloc(src.length, x.dtype);
    unary(op, src, out);
    return this.wrap(out);
  }
  unaryGrad(op: DifferentiableUnaryOp, x: Storage, gy: Storage): Storage {
    const out = new Float32Array(x.size);
    unaryGrad(op, this.f32(x, op), this.f32(gy, op), out);
    return this.wrap(out);
  }
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[], outDtype: DType): Storage {
    const out = alloc(outShape.reduce((p, d) => p * d, 1), outDtype);
    binary(op, this.arr(a), aShape, this.arr(b), bShape, outShape, out);
    return this.wrap(out);
  }
  where(cond: Storage, condShape: readonly number[], a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage {
    const out = alloc(outShape.reduce((p, d) => p * d, 1), a.dtype);
    where(this.arr(cond), condShape, this.arr(a), aShape, this.arr(b), bShape, outShape, out);
    return this.wrap(out);
  }

  gatherStrided(x: Storage, view: StridedView): Storage {
    const out = alloc(view.shape.reduce((p, d) => p * d, 1), x.dtype);
    gatherStrided(this.arr(x), view, out);
    return this.wrap(out);
  }
  scatterStridedInto(dst: Storage, view: StridedView, src: Storage): void {
    scatterStrided(this.arr(dst), view, this.arr(src));
  }

  reduce(op: ReduceOp, x: Storage, shape: ReduceShape): Storage {
    const outDtype: DType = op === 'argmax' || op === 'argmin' ? 'int32' : x.dtype;
    const out = alloc(shape.outer * shape.inner, outDtype);
    reduce(op, this.arr(x), shape, out);
    return this.wrap(out);
  }

  indexSelect(x: Storage, shape: ReduceShape, ids: Storage): Storage {
    const idx = this.i32(ids, 'indexSelect');
    // A float16 table: gather the halves, then decode only the selected rows.
    if (x instanceof CpuStorage && x.data instanceof Uint16Array) {
      const bits = new Uint16Array(shape.outer * idx.length * shape.inner);
      indexSelect(x.data, shape, idx, bits);
      return this.wrap(decodeF16(bits));
    }
    const out = alloc(shape.outer * idx.length * shape.inner, x.dtype);
    indexSelect(this.arr(x), shape, idx, out);
    return this.wrap(out);
  }
  indexAdd(g: Storage, shape: ReduceShape, ids: Storage): Storage {
    const out = new Float32Array(shape.outer * shape.len * shape.inner);
    indexAdd(this.f32(g, 'indexAdd'), shape, this.i32(ids, 'indexAdd'), out);
    return this.wrap(out);
  }
  takeAlongAxis(x: Storage, shape: ReduceShape, idx: Storage, k: number): Storage {
    const out = alloc(shape.outer * k * shape.inner, x.dtype);
    takeAlongAxis(this.arr(x), shape, this.i32(idx, 'gather'), k, out);
    return this.wrap(out);
  }
  takeAlongAxisGrad(g: Storage, shape: ReduceShape, idx: Storage, k: number): Storage {
    const out = new Float32Array(shape.outer * shape.len * shape.inner);
    takeAlongAxisGrad(this.f32(g, 'gather'), shape, this.i32(idx, 'gather'), k, out);
    return this.wrap(out);
  }

  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage {
    const out = new Float32Array(args.batch * args.m * args.n);
    matmul(this.f32or16(a, 'matmul'), this.f32or16(b, 'matmul'), args.bias ? this.f32(args.bias, 'matmul bias') : undefined, args, out);
    return this.wrap(out);
  }

  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage {
    const out = new Float32Array(rows * cols);
    softmax(this.f32(x, 'softmax'), rows, cols, log, out);
    return this.wrap(out);
  }
  softmaxGrad(y: Storage, gy: Storage, rows: number, cols: number, log: boolean): Storage {
    const out = new Float32Array(rows * cols);
    softmaxGrad(this.f32(y, 'softmax'), this.f32(gy, 'softmax'), rows, cols, log, out);
    return this.wrap(out);
  }
  normalize(x: Storage, rows: number, cols: number, eps: number, rms: boolean): { y: Storage; mean: Storage; rstd: Storage } {
    const y = new Float32Array(rows * cols), mean = new Float32Array(rows), rstd = new Float32Array(rows);
    normalize(this.f32(x, 'normalize'), rows, cols, eps, rms, y, mean, rstd);
    return { y: this.wrap(y), mean: this.wrap(mean), rstd: this.wrap(rstd) };
  }
  normalizeGrad(xhat: Storage, rstd: Storage, gy: Storage, rows: number, cols: number, rms: boolean): Storage {
    const out = new Float32Array(rows * cols);
    normalizeGrad(this.f32(xhat, 'normalize'), this.f32(rstd, 'normalize'), this.f32(gy, 'normalize'), rows, cols, rms, out);
    return this.wrap(out);
  }
  crossEntropy(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number): { loss: Storage; valid: Storage } {
    const loss = new Float32Array(rows), valid = new Float32Array(rows);
    crossEntropy(this.f32(logits, 'cross_entropy'), this.i32(targets, 'cross_entropy'), rows, cols, ignoreIndex, loss, valid);
    return { loss: this.wrap(loss), valid: this.wrap(valid) };
  }
  crossEntropyGrad(logits: Storage, targets: Storage, gLoss: Storage, rows: number, cols: number, ignoreIndex: number): Storage {
    const out = new Float32Array(rows * cols);
    crossEntropyGrad(this.f32(logits, 'cross_entropy'), this.i32(targets, 'cross_entropy'), this.f32(gLoss, 'cross_entropy'), rows, cols, ignoreIndex, out);
    return this.wrap(out);
  }
  attention(q: Storage, k: Storage, v: Storage, args: AttentionArgs): { out: Storage; lse: Storage } {
    const out = new Float32Array(args.batch * args.heads * args.tq * args.dimV), lse = new Float32Array(args.batch * args.heads * args.tq);
    attention(this.f32or16(q, 'attention'), this.f32or16(k, 'attention'), this.f32or16(v, 'attention'), args.mask ? this.f32(args.mask, 'attention mask') : undefined, args, out, lse);
    return { out: this.wrap(out), lse: this.wrap(lse) };
  }
  attentionGrad(q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, gOut: Storage, args: AttentionArgs): { gq: Storage; gk: Storage; gv: Storage } {
    const gq = new Float32Array(q.size), gk = new Float32Array(k.size), gv = new Float32Array(v.size);
    attentionGrad(this.f32(q, 'attention'), this.f32(k, 'attention'), this.f32(v, 'attention'), this.f32(out, 'attention'), this.f32(lse, 'attention'),
      this.f32(gOut, 'attention'), args.mask ? this.f32(args.mask, 'attention mask') : undefined, args, gq, gk, gv);
    return { gq: this.wrap(gq), gk: this.wrap(gk), gv: this.wrap(gv) };
  }
  rope(x: Storage, cos: Storage, sin: Storage, b: number, h: number, t: number, d: number, inverse: boolean): Storage {
    const out = new Float32Array(x.size);
    rope(this.f32(x, 'rope'), this.f32(cos, 'rope'), this.f32(sin, 'rope'), b, h, t, d, inverse, out);
    return this.wrap(out);
  }
  conv2d(x: Storage, w: Storage, bias: Storage | undefined, args: Conv2dArgs): Storage {
    const out = new Float32Array(args.n * args.o * args.oh * args.ow);
    conv2d(this.f32(x, 'conv2d'), this.f32(w, 'conv2d'), bias ? this.f32(bias, 'conv2d bias') : undefined, args, out);
    return this.wrap(out);
  }
  conv2dGradInput(gy: Storage, w: Storage, args: Conv2dArgs): Storage {
    const out = new Float32Array(args.n * args.c * args.h * args.w);
    conv2dGradInput(this.f32(gy, 'conv2d'), this.f32(w, 'conv2d'), args, out);
    return this.wrap(out);
  }
  conv2dGradWeight(x: Storage, gy: Storage, args: Conv2dArgs): Storage {
    const out = new Float32Array(args.o * args.c * args.kh * args.kw);
    conv2dGradWeight(this.f32(x, 'conv2d'), this.f32(gy, 'conv2d'), args, out);
    return this.wrap(out);
  }
  random(size: number, kind: 'uniform' | 'normal', key: number, counter: number): Storage {
    const out = new Float32Array(size), at = kind === 'uniform' ? uniformAt : normalAt;
    for (let i = 0; i < size; i++) out[i] = at(key, counter + i);
    return this.wrap(out);
  }
  combineRows(inputs: readonly Storage[], coefs: readonly Storage[], rows: number, cols: number): Storage {
    const out = new Float32Array(rows * cols);
    combineRows(inputs.map((s) => this.f32(s, 'combineRows')), coefs.map((s) => this.f32(s, 'combineRows')), rows, cols, out);
    return this.wrap(out);
  }
  adamwInPlace(param: Storage, grad: Storage, m: Storage, v: Storage, a: AdamWArgs): void {
    const p = this.f32(param, 'adamw'), g = this.f32(grad, 'adamw'), M = this.f32(m, 'adamw'), V = this.f32(v, 'adamw');
    // PyTorch's AdamW: decoupled decay, then p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
    const bc1 = 1 - Math.pow(a.beta1, a.step), bc2 = 1 - Math.pow(a.beta2, a.step);
    const stepSize = a.lr / bc1, sqrtBc2 = Math.sqrt(bc2), decay = 1 - a.lr * a.weightDecay;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      M[i] = a.beta1 * M[i]! + (1 - a.beta1) * gi;
      V[i] = a.beta2 * V[i]! + (1 - a.beta2) * gi * gi;
      p[i] = p[i]! * decay - stepSize * M[i]! / (Math.sqrt(V[i]!) / sqrtBc2 + a.eps);
    }
  }
}

export function createCpuBackend(): CpuBackend {
  return new CpuBackend();
}
