// softmax / log_softmax along any axis (the kernel works on the last axis; others permute).
import { normAxis } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { transpose } from './layout.ts';
import { f32, record, requireFloat, wrap } from './record.ts';

function softmaxLast(x0: Tensor, log: boolean): Tensor {
  const x = f32(x0);
  const cols = x.shape[x.rank - 1] ?? 1, rows = x.size / Math.max(cols, 1);
  const b = x.backend;
  const out = wrap(b, b.softmax(x.storage, rows, cols, log), x.shape);
  return record(out, log ? 'log_softmax' : 'softmax', [x], (gy) => [wrap(b, b.softmaxGrad(out.storage, gy.storage, rows, cols, log), x.shape)]);
}

function along(x: Tensor, dim: number, log: boolean): Tensor {
  requireFloat(log ? 'log_softmax' : 'softmax', x);
  if (x.rank === 0) return softmaxLast(x, log);
  const d = normAxis(dim, x.rank, 'softmax');
  if (d === x.rank - 1) return softmaxLast(x, log);
  return transpose(softmaxLast(transpose(x, d, -1), log), d, -1);
}

export const softmax = (x: Tensor, dim = -1): Tensor => along(x, dim, false);
export const logSoftmax = (x: Tensor, dim = -1): Tensor => along(x, dim, true);
