// The backend interface: everything the tensor layer asks of a device.
//
// Rules every backend follows, so that kernels stay simple:
// - Storages are flat and contiguous (row-major). The tensor layer never hands a kernel a
//   strided view; layout changes (permute, slice, expand) are explicit strided copies.
// - Kernels never mutate their inputs and return a fresh storage, except the few whose name
//   ends in `Into`/`InPlace`, which write into a storage the tensor layer owns exclusively.
// - Shapes and sizes arrive as plain numbers; a backend may cache compiled kernels by them.
// - float32 is the compute dtype, int32 is for indices and token ids.
// - float16 is a storage dtype (IEEE half, 2 bytes): matmul and attention read it (any mix with
//   float32, f32 accumulation, float32 out), indexSelect reads a float16 table into float32 rows,
//   and cast converts it; the tensor layer casts it to float32 before every other kernel.

export type DType = 'float32' | 'int32' | 'float16';

/** Host data for fromArray: Uint16Array holds IEEE float16 bit patterns (a float16 storage). */
export type HostArray = Float32Array | Int32Array | Uint16Array;

/** Bytes per element of a storage of this dtype. */
export function dtypeBytes(dtype: DType): number { return dtype === 'float16' ? 2 : 4; }

/** An opaque block of device memory. Backends put what they need behind it. */
export interface Storage {
  readonly backend: string;
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'tanh' | 'sigmoid' | 'silu'
  | 'gelu_erf' | 'gelu_tanh' | 'relu' | 'sin' | 'cos' | 'square' | 'reciprocal' | 'sign';

/** Unary ops that have a derivative kernel: dx = gy * f'(x). */
export type DifferentiableUnaryOp = Exclude<UnaryOp, 'sign'>;

/** Activations a matmul can apply in its epilogue: the unary ops of the same names, same formulas. */
export type MatmulActivation = Extract<DifferentiableUnaryOp, 'gelu_erf' | 'gelu_tanh' | 'silu' | 'relu'>;

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min'
  // Comparisons write 1 or 0 in the output dtype (int32 unless the caller asks otherwise).
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

/** A reduction over the middle axis of an [outer, len, inner] view of a contiguous buffer. */
export interface ReduceShape { outer: number; len: number; inner: number }

/** out[i] = x[offset + sum_d idx_d(i) * strides[d]] for i over `shape` (strides may be 0 or negative). */
export interface StridedView { shape: readonly number[]; strides: readonly number[]; offset: number }

export interface MatmulArgs {
  /** Number of matrices; a batch stride of 0 reuses one operand for every batch entry. */
  batch: number;
  m: number; k: number; n: number;
  /** a is [m,k] (or [k,m] when transA), b is [k,n] (or [n,k] when transB). */
  transA: boolean; transB: boolean;
  aBatchStride: number; bBatchStride: number;
  /** Optional bias of length n added to every row (fused epilogue). */
  bias?: Storage;
  /** Optional activation applied to each element after the full sum and the bias (fused
   * epilogue): out = act(A B + bias), equal to `unary(activation, ...)` of the plain product. */
  activation?: MatmulActivation;
}

export interface AttentionArgs {
  batch: number; heads: number; kvHeads: number;
  tq: number; tk: number; dim: number; dimV: number;
  scale: number;
  /** Key j is hidden from query i when j > i + (tk - tq). */
  causal: boolean;
  /** Additive float mask read as mask[b*maskBatchStride + h*maskHeadStride + i*tk + j]. */
  mask?: Storage;
  maskBatchStride: number;
  maskHeadStride: number;
}

export interface Conv2dArgs {
  n: number; c: number; h: number; w: number;
  o: number; kh: number; kw: number;
  strideH: number; strideW: number;
  padTop: number; padBottom: number; padLeft: number; padRight: number;
  oh: number; ow: number;
}

export interface AdamWArgs {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
}

export interface BackendInfo {
  name: string;
  /** A one-line description (device, adapter, threads). */
  summary: string;
  details?: Record<string, string>;
}

export interface Backend {
  readonly name: string;
  info(): BackendInfo;

  // --- memory -----------------------------------------------------------------------------
  /** A new zero-filled storage. */
  zeros(size: number, dtype: DType): Storage;
  /** Upload host data (the backend may keep the array; callers must not mutate it after).
   * A Uint16Array is float16 bits and gives a float16 storage. */
  fromArray(data: HostArray): Storage;
  /** Read a storage back to the host (a float16 storage reads as its float32 values). */
  read(s: Storage): Promise<Float32Array | Int32Array>;
  /** Synchronous read, for backends whose memory is on the host; others throw. */
  readSync(s: Storage): Float32Array | Int32Array;
  free(s: Storage): void;
  /** Live (allocated, not freed) storages and their bytes, for leak tests. */
  memory(): { liveStorages: number; liveBytes: number; pooledBytes?: number };
  /** Wait for all queued work (a no-op on synchronous backends). */
  sync(): Promise<void>;

  // --- elementwise --------------------------------------------------------------------------
  fill(size: number, dtype: DType, value: number): Storage;
  /** float32 <-> int32 (truncation) and float32 <-> float16 (round to nearest even, overflow to
   * inf: the caller checks the range). int32 <-> float16 is not asked for (the tensor layer
   * goes through float32). */
  cast(x: Storage, dtype: DType): Storage;
  unary(op: UnaryOp, x: Storage): Storage;
  /** dx = gy * f'(x) for the unary op. */
  unaryGrad(op: DifferentiableUnaryOp, x: Storage, gy: Storage): Storage;
  /** Broadcasting binary op; shapes are already right-aligned to outShape's rank. */
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[],
    outShape: readonly number[], outDtype: DType): Storage;
  /** out = cond != 0 ? a : b, broadcasting all three to outShape (same rank). */
  where(cond: Storage, condShape: readonly number[], a: Storage, aShape: readonly number[],
    b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage;

  // --- layout ---------------------------------------------------------------------------
  /** A contiguous copy of a strided view of x. */
  gatherStrided(x: Storage, view: StridedView): Storage;
  /** Copy contiguous src into the strided view of dst (dst is owned by the caller, mutated). */
  scatterStridedInto(dst: Storage, view: StridedView, src: Storage): void;

  // --- reductions ---------------------------------------------------------------------------
  /** sum/max/min give x's dtype; argmax/argmin give int32. Output is [outer, inner]. */
  reduce(op: ReduceOp, x: Storage, shape: ReduceShape): Storage;

  // --- indexing -----------------------------------------------------------------------------
  /** x viewed as [outer, len, inner]; out[o, j, i] = x[o, ids[j], i] for j < ids.size.
   * A float16 x gives float32 rows (an embedding table stored in half precision).
   * Out-of-range ids are a caller error (CPU throws; GPU backends write 0), likewise below. */
  indexSelect(x: Storage, shape: ReduceShape, ids: Storage): Storage;
  /** The transpose of indexSelect: out [outer, len, inner] zeros, out[o, ids[j], i] += g[o, j, i]. */
  indexAdd(g: Storage, shape: ReduceShape, ids: Storage): Storage;
  /** torch.gather: x [outer, len, inner], idx [outer, k, inner]; out[o,j,i] = x[o, idx[o,j,i], i]. */
  takeAlongAxis(x: Storage, shape: ReduceShape, idx: Storage, k: number): Storage;
  /** The transpose of takeAlongAxis: zeros [outer, len, inner] with g scattered-added. */
  takeAlongAxisGrad(g: Storage, shape: ReduceShape, idx: Storage, k: number): Storage;

  // --- linear algebra -----------------------------------------------------------------------
  /** a and b may each be float32 or float16; accumulation and the output are float32. */
  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage;

  // --- fused neural-network kernels -------------------------------------------------------
  /** Softmax (or log-softmax) over the last axis of [rows, cols]. */
  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage;
  /** Gradient of softmax/log_softmax from its output y. */
  softmaxGrad(y: Storage, gy: Storage, rows: number, cols: number, log: boolean): Storage;
  /** Normalises each row of [rows, cols]: layer norm (mean and variance) or RMS norm. Returns y
   * (without affine), and per-row mean (zeros for rms) and rstd, which the gradient needs. */
  normalize(x: Storage, rows: number, cols: number, eps: number, rms: boolean): { y: Storage; mean: Storage; rstd: Storage };
  /** dx of normalize given xhat = y (without affine) and rstd. */
  normalizeGrad(xhat: Storage, rstd: Storage, gy: Storage, rows: number, cols: number, rms: boolean): Storage;
  /** Per-row -log softmax(logits)[target] (0 where target == ignoreIndex), and a 1/0 valid mask.
   * A target outside [0, cols) that is not ignoreIndex is a caller error: the CPU reference
   * throws; GPU backends cannot throw without a round trip and treat the row as ignored. */
  crossEntropy(logits: Storage, targets: Storage, rows: number, cols: number, ignoreIndex: number): { loss: Storage; valid: Storage };
  /** d logits given the upstream gradient of each row's loss. */
  crossEntropyGrad(logits: Storage, targets: Storage, gLoss: Storage, rows: number, cols: number, ignoreIndex: number): Storage;
  /** Scaled dot-product attention. q [B,H,tq,D], k [B,Hkv,tk,D], v [B,Hkv,tk,Dv] -> out [B,H,tq,Dv],
   * and the per-row log-sum-exp [B,H,tq] of the scaled scores, for the backward pass.
   * q, k and v may each be float32 or float16 (float32 accumulation and outputs); the mask and
   * every operand of attentionGrad are float32. */
  attention(q: Storage, k: Storage, v: Storage, args: AttentionArgs): { out: Storage; lse: Storage };
  attentionGrad(q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, gOut: Storage, args: AttentionArgs): { gq: Storage; gk: Storage; gv: Storage };
  /** Rotary embedding over the last axis of x [B,H,T,D] with cos/sin [B,T,D] (rotate_half form).
   * inverse = true applies the transpose (used for the gradient). */
  rope(x: Storage, cos: Storage, sin: Storage, b: number, h: number, t: number, d: number, inverse: boolean): Storage;
  conv2d(x: Storage, w: Storage, bias: Storage | undefined, args: Conv2dArgs): Storage;
  conv2dGradInput(gy: Storage, w: Storage, args: Conv2dArgs): Storage;
  conv2dGradWeight(x: Storage, gy: Storage, args: Conv2dArgs): Storage;

  // --- randomness -------------------------------------------------------------------------
  /** Counter-based random numbers: element i depends only on (key, counter + i), so every
   * backend draws the same values. 'uniform' is in [0, 1), 'normal' is N(0, 1). */
  random(size: number, kind: 'uniform' | 'normal', key: number, counter: number): Storage;

  // --- diffusion -----------------------------------------------------------------------------
  /** out[r, c] = sum_k coefs[k][r] * inputs[k][r, c] over [rows, cols] (1 to 3 inputs): one
   * dispatch for q_sample and for each DDPM/DDIM update of a whole latent batch, whose
   * per-sample coefficients come from the schedule tables. */
  combineRows(inputs: readonly Storage[], coefs: readonly Storage[], rows: number, cols: number): Storage;

  // --- optimizers ---------------------------------------------------------------------------
  /** One fused AdamW step, updating param, m and v in place. */
  adamwInPlace(param: Storage, grad: Storage, m: Storage, v: Storage, args: AdamWArgs): void;
}
