// Indexing ops: gather along an axis, index_select, embedding lookup; gradients scatter-add.
import { normAxis, shapeStr, splitAt } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { reshape } from './layout.ts';
import { f32, record, requireInt, sameBackend, wrap } from './record.ts';

/** torch.gather with an index of x's shape except along axis (the common case). */
export function takeAlongAxis(x0: Tensor, axis: number, idx: Tensor): Tensor {
  const x = f32(x0);
  requireInt('gather', idx, 'index');
  sameBackend('gather', x, idx);
  if (idx.rank !== x.rank || idx.shape.some((d, i) => i !== axis && d !== x.shape[i])) {
    throw new Error(`gather: index ${shapeStr(idx.shape)} must match input ${shapeStr(x.shape)} outside dim ${axis}`);
  }
  const s = splitAt(x.shape, axis), k = idx.shape[axis]!;
  const out = wrap(x.backend, x.backend.takeAlongAxis(x.storage, s, idx.storage, k), idx.shape);
  return record(out, 'gather', [x], (gy) => [wrap(x.backend, x.backend.takeAlongAxisGrad(gy.storage, s, idx.storage, k), x.shape)]);
}

export function gather(x: Tensor, dim: number, idx: Tensor): Tensor {
  return takeAlongAxis(x, normAxis(dim, x.rank, 'gather'), idx);
}

/** Rows (slices along dim) of x picked by a 1-D index; repeated ids accumulate gradient. A
 * float16 x (a half embedding table) gives float32 rows, read natively by every backend. */
export function indexSelect(x: Tensor, dim: number, ids: Tensor): Tensor {
  requireInt('indexSelect', ids, 'index');
  sameBackend('indexSelect', x, ids);
  if (ids.rank !== 1) throw new Error(`indexSelect: index must be 1-D, got ${shapeStr(ids.shape)}`);
  const axis = normAxis(dim, x.rank, 'indexSelect');
  const s = splitAt(x.shape, axis);
  const shape = [...x.shape];
  shape[axis] = ids.size;
  const out = wrap(x.backend, x.backend.indexSelect(x.storage, s, ids.storage), shape);
  return record(out, 'indexSelect', [x], (gy) => [wrap(x.backend, x.backend.indexAdd(gy.storage, s, ids.storage), x.shape)]);
}

/** weight[ids]: ids of any shape give ids.shape + [dim]. */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  if (weight.rank !== 2) throw new Error(`embedding: weight must be [num, dim], got ${shapeStr(weight.shape)}`);
  const flat = reshape(ids, [ids.size]);
  return reshape(indexSelect(weight, 0, flat), [...ids.shape, weight.shape[1]!]);
}
