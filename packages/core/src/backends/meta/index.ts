// The meta backend: tensors with a shape and dtype but no data, like PyTorch's device="meta".
// Building a model on it allocates nothing, so configs far larger than memory (Qwen2-7B in
// float32 is 30 GB) can be constructed to check their parameter names, shapes and counts.
//
// Creation (zeros, fill, random, fromArray) returns a storage holding only dtype and size;
// fromArray drops the array it is given. Every kernel and every read throws MetaTensorError
// ("meta tensors have no data: <op>"), so nothing can silently compute on missing values.
// Layout-only tensor ops that share storage (reshape, view, detach) work, as they call no kernel.
import {
  dtypeBytes,
  type AdamWArgs, type AttentionArgs, type Backend, type BackendInfo, type BinaryOp, type Conv2dArgs, type DifferentiableUnaryOp, type DType,
  type HostArray, type MatmulArgs, type ReduceOp, type ReduceShape, type Storage, type StridedView, type UnaryOp,
} from '../../backend.ts';

export class MetaTensorError extends Error {
  constructor(readonly op: string) {
    super(`meta tensors have no data: ${op} (the meta backend only records shapes; build the model on cpu or webgpu to compute)`);
    this.name = 'MetaTensorError';
  }
}

export class MetaStorage implements Storage {
  readonly backend = 'meta';
  constructor(readonly dtype: DType, readonly size: number) {}
}

function fail(op: string): never { throw new MetaTensorError(op); }

export class MetaBackend implements Backend {
  readonly name = 'meta';
  private live = 0;
  private liveBytes = 0;

  info(): BackendInfo {
    return { name: 'meta', summary: 'meta: shapes and dtypes only, no data (nothing is allocated; kernels and reads throw)' };
  }

  private make(size: number, dtype: DType): MetaStorage {
    if (!(Number.isSafeInteger(size) && size >= 0)) throw new RangeError(`meta backend: bad storage size ${size}`);
    this.live++;
    this.liveBytes += size * dtypeBytes(dtype);
    return new MetaStorage(dtype, size);
  }
  private own(s: Storage): MetaStorage {
    if (!(s instanceof MetaStorage)) throw new TypeError(`meta backend got a storage of backend '${s.backend}'`);
    return s;
  }

  // --- memory: shapes only ------------------------------------------------------------------
  zeros(size: number, dtype: DType): Storage { return this.make(size, dtype); }
  fill(size: number, dtype: DType, _value: number): Storage { return this.make(size, dtype); }
  fromArray(data: HostArray): Storage { return this.make(data.length, data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'float16'); }
  random(size: number, _kind: 'uniform' | 'normal', _key: number, _counter: number): Storage { return this.make(size, 'float32'); }
  free(s: Storage): void {
    const m = this.own(s);
    this.live--;
    this.liveBytes -= m.size * dtypeBytes(m.dtype);
  }
  /** liveBytes counts what the live storages would take on a real backend; none of it is allocated. */
  memory(): { liveStorages: number; liveBytes: number } { return { liveStorages: this.live, liveBytes: this.liveBytes }; }
  async sync(): Promise<void> {}
  read(_s: Storage): Promise<Float32Array | Int32Array> { return Promise.reject(new MetaTensorError('read')); }
  readSync(_s: Storage): Float32Array | Int32Array { return fail('readSync'); }

  // --- every kernel throws -------------------------------------------------------------------
  cast(_x: Storage, dtype: DType): Storage { return fail(`cast to ${dtype}`); }
  unary(op: UnaryOp, _x: Storage): Storage { return fail(op); }
  unaryGrad(op: DifferentiableUnaryOp, _x: Storage, _gy: Storage): Storage { return fail(`${op} backward`); }
  binary(op: BinaryOp, _a: Storage, _aShape: readonly number[], _b: Storage, _bShape: readonly number[], _outShape: readonly number[], _outDtype: DType): Storage { return fail(op); }
  where(_c: Storage, _cs: readonly number[], _a: Storage, _as: readonly number[], _b: Storage, _bs: readonly number[], _os: readonly number[]): Storage { return fail('where'); }
  gatherStrided(_x: Storage, _view: StridedView): Storage { return fail('gatherStrided (permute/slice/expand copy)'); }
  scatterStridedInto(_dst: Storage, _view: StridedView, _src: Storage): void { fail('scatterStridedInto'); }
  reduce(op: ReduceOp, _x: Storage, _shape: ReduceShape): Storage { return fail(op); }
  indexSelect(_x: Storage, _shape: ReduceShape, _ids: Storage): Storage { return fail('indexSelect'); }
  indexAdd(_g: Storage, _shape: ReduceShape, _ids: Storage): Storage { return fail('indexAdd'); }
  takeAlongAxis(_x: Storage, _shape: ReduceShape, _idx: Storage, _k: number): Storage { return fail('takeAlongAxis'); }
  takeAlongAxisGrad(_g: Storage, _shape: ReduceShape, _idx: Storage, _k: number): Storage { return fail('takeAlongAxis backward'); }
  matmul(_a: Storage, _b: Storage, _args: MatmulArgs): Storage { return fail('matmul'); }
  softmax(_x: Storage, _rows: number, _cols: number, log: boolean): Storage { return fail(log ? 'logSoftmax' : 'softmax'); }
  softmaxGrad(_y: Storage, _gy: Storage, _rows: number, _cols: number, _log: boolean): Storage { return fail('softmax backward'); }
  normalize(_x: Storage, _rows: number, _cols: number, _eps: number, rms: boolean): { y: Storage; mean: Storage; rstd: Storage } { return fail(rms ? 'rmsNorm' : 'layerNorm'); }
  normalizeGrad(_xhat: Storage, _rstd: Storage, _gy: Storage, _rows: number, _cols: number, _rms: boolean): Storage { return fail('normalize backward'); }
  crossEntropy(_l: Storage, _t: Storage, _rows: number, _cols: number, _ignore: number): { loss: Storage; valid: Storage } { return fail('crossEntropy'); }
  crossEntropyGrad(_l: Storage, _t: Storage, _g: Storage, _rows: number, _cols: number, _ignore: number): Storage { return fail('crossEntropy backward'); }
  attention(_q: Storage, _k: Storage, _v: Storage, _args: AttentionArgs): { out: Storage; lse: Storage } { return fail('attention'); }
  attentionGrad(_q: Storage, _k: Storage, _v: Storage, _o: Storage, _lse: Storage, _g: Storage, _args: AttentionArgs): { gq: Storage; gk: Storage; gv: Storage } { return fail('attention backward'); }
  rope(_x: Storage, _cos: Storage, _sin: Storage, _b: number, _h: number, _t: number, _d: number, _inverse: boolean): Storage { return fail('rope'); }
  conv2d(_x: Storage, _w: Storage, _bias: Storage | undefined, _args: Conv2dArgs): Storage { return fail('conv2d'); }
  conv2dGradInput(_gy: Storage, _w: Storage, _args: Conv2dArgs): Storage { return fail('conv2d backward (input)'); }
  conv2dGradWeight(_x: Storage, _gy: Storage, _args: Conv2dArgs): Storage { return fail('conv2d backward (weight)'); }
  combineRows(_inputs: readonly Storage[], _coefs: readonly Storage[], _rows: number, _cols: number): Storage { return fail('combineRows'); }
  adamwInPlace(_p: Storage, _g: Storage, _m: Storage, _v: Storage, _args: AdamWArgs): void { fail('adamw'); }
}

export function createMetaBackend(): MetaBackend {
  return new MetaBackend();
}

/** Whether a backend is the meta backend (its tensors have shapes but no data). */
export function isMetaBackend(b: Backend): b is MetaBackend { return b.name === 'meta'; }
