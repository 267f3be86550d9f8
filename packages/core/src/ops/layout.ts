// Layout ops. reshape shares storage; everything else is a strided gather (permute, slice,
// expand) whose gradient is the matching scatter or sum.
import type { StridedView } from '../backend.ts';
import { checkShape, contiguousStrides, normAxis, sameShape, shapeStr, sizeOf } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { f32, record, sameBackend, wrap } from './record.ts';
import { sumTo } from './reduce.ts';

// A float16 tensor is cast to float32 first: strided views of half storages are not kernels of
// their own (reshape, which shares storage, keeps float16).
function gather(x0: Tensor, view: StridedView): Tensor {
  const x = f32(x0);
  return wrap(x.backend, x.backend.gatherStrided(x.storage, view), view.shape);
}

/** zeros of `shape` with src written into the strided view (the transpose of gather). */
function scatterIntoZeros(src0: Tensor, shape: readonly number[], view: StridedView): Tensor {
  const src = f32(src0);
  const b = src.backend;
  const dst = b.zeros(sizeOf(shape), src.dtype);
  b.scatterStridedInto(dst, view, src.storage);
  return wrap(b, dst, shape);
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const dims = [...shape];
  const infer = dims.indexOf(-1);
  if (infer >= 0) {
    const known = dims.reduce((p, d, i) => (i === infer ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} into ${shapeStr(shape)}`);
    dims[infer] = x.size / known;
  }
  checkShape(dims, 'reshape');
  if (sizeOf(dims) !== x.size) throw new Error(`reshape: cannot reshape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)}`);
  if (sameShape(dims, x.shape)) return x;
  const out = new Tensor(x.data_(), dims, x.dtype);
  return record(out, 'reshape', [x], (gy) => [reshape(gy, x.shape)]);
}

/** A leaf sharing x's storage. */
export function detach(x: Tensor): Tensor {
  return new Tensor(x.data_(), x.shape, x.dtype);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normAxis(startDim, x.rank, 'flatten'), e = normAxis(endDim, x.rank, 'flatten');
  const mid = x.shape.slice(s, e + 1).reduce((p, d) => p * d, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normAxis(dim, x.rank + 1, 'unsqueeze');
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normAxis(dim, x.rank, 'squeeze');
  return x.shape[d] === 1 ? reshape(x, [...x.shape.slice(0, d), ...x.shape.slice(d + 1)]) : x;
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.rank) throw new Error(`permute: got ${dims.length} dims ${shapeStr(dims)} for a tensor of rank ${x.rank}`);
  const perm = dims.map((d) => normAxis(d, x.rank, 'permute'));
  if (new Set(perm).size !== perm.length) throw new Error(`permute: dims ${shapeStr(dims)} repeat an axis`);
  if (perm.every((p, i) => p === i)) return x;
  const strides = contiguousStrides(x.shape);
  const out = gather(x, { shape: perm.map((p) => x.shape[p]!), strides: perm.map((p) => strides[p]!), offset: 0 });
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => { inverse[p] = i; });
  return record(out, 'permute', [x], (gy) => [permute(gy, inverse)]);
}

export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  const a = normAxis(d0, x.rank, 'transpose'), b = normAxis(d1, x.rank, 'transpose');
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** x[start:end:step] along dim, Python semantics for negative and out-of-range bounds. */
export function slice(x: Tensor, dim: number, start: number, end?: number, step = 1): Tensor {
  const d = normAxis(dim, x.rank, 'slice');
  if (!Number.isInteger(step) || step <= 0) throw new RangeError(`slice: step must be a positive integer, got ${step}`);
  const len = x.shape[d]!;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + len : v, 0), len);
  const s = clamp(start), e = clamp(end ?? len);
  const n = Math.max(0, Math.ceil((e - s) / step));
  const strides = contiguousStrides(x.shape);
  const shape = [...x.shape];
  shape[d] = n;
  const view: StridedView = { shape, strides: strides.map((st, i) => (i === d ? st * step : st)), offset: s * strides[d]! };
  if (n === len && step === 1) return x;
  const out = gather(x, view);
  return record(out, 'slice', [x], (gy) => [scatterIntoZeros(gy, x.shape, view)]);
}

/** Broadcasts size-1 dims (and new leading dims) to shape; -1 keeps a dim. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.rank) throw new Error(`expand: target ${shapeStr(shape)} has fewer dims than ${shapeStr(x.shape)}`);
  const lead = shape.length - x.rank;
  const target = shape.map((d, i) => (d === -1 ? x.shape[i - lead]! : d));
  const src = contiguousStrides(x.shape);
  const strides = target.map((d, i) => {
    if (i < lead) return 0;
    const xd = x.shape[i - lead]!;
    if (xd === d) return src[i - lead]!;
    if (xd === 1) return 0;
    throw new Error(`expand: cannot expand ${shapeStr(x.shape)} to ${shapeStr(shape)} (dim ${i}: ${xd} -> ${d})`);
  });
  if (sameShape(target, x.shape)) return x;
  const out = gather(x, { shape: target, strides, offset: 0 });
  return record(out, 'expand', [x], (gy) => [sumTo(gy, x.shape)]);
}

/** torch.Tensor.repeat: tiles x reps[i] times along each dim (extra leading reps add dims). */
export function repeat(x: Tensor, reps: readonly number[]): Tensor {
  if (reps.length < x.rank) throw new Error(`repeat: ${reps.length} repeats for a tensor of rank ${x.rank}`);
  const shape = [...new Array<number>(reps.length - x.rank).fill(1), ...x.shape];
  // View each dim d as [1, d], expand to [r, d], then merge: one strided gather.
  const inter: number[] = [], target: number[] = [];
  shape.forEach((d, i) => { inter.push(1, d); target.push(reps[i]!, d); });
  return reshape(expand(reshape(x, inter), target), shape.map((d, i) => d * reps[i]!));
}

export function concat(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors given');
  xs = xs.map(f32);
  const first = xs[0]!;
  const d = normAxis(dim, first.rank, 'concat');
  const backend = sameBackend('concat', ...xs);
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((s, i) => i !== d && s !== first.shape[i]) || t.dtype !== first.dtype) {
      throw new Error(`concat: shapes ${xs.map((x) => `${shapeStr(x.shape)} ${x.dtype}`).join(', ')} differ outside dim ${d}`);
    }
  }
  const shape = [...first.shape];
  shape[d] = xs.reduce((p, t) => p + t.shape[d]!, 0);
  const storage = backend.zeros(sizeOf(shape), first.dtype);
  const strides = contiguousStrides(shape);
  let offset = 0;
  for (const t of xs) {
    backend.scatterStridedInto(storage, { shape: t.shape, strides, offset: offset * strides[d]! }, t.storage);
    offset += t.shape[d]!;
  }
  const out = wrap(backend, storage, shape);
  return record(out, 'concat', xs, (gy) => {
    let start = 0;
    return xs.map((t) => {
      const g = t.requiresGrad ? slice(gy, d, start, start + t.shape[d]!) : null;
      start += t.shape[d]!;
      return g;
    });
  });
}

export function stack(xs: readonly Tensor[], dim = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: no tensors given');
  const d = normAxis(dim, xs[0]!.rank + 1, 'stack');
  return concat(xs.map((x) => unsqueeze(x, d)), d);
}

export function split(x: Tensor, size: number, dim = 0): Tensor[] {
  const d = normAxis(dim, x.rank, 'split');
  const out: Tensor[] = [];
  for (let s = 0; s < x.shape[d]!; s += size) out.push(slice(x, d, s, s + size));
  return out;
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  const d = normAxis(dim, x.rank, 'chunk');
  return split(x, Math.ceil(x.shape[d]! / chunks), d);
}
