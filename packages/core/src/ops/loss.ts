// Losses: fused cross-entropy with ignore_index, and mean squared error.
import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { div, square, sub } from './elementwise.ts';
import { f32, record, requireFloat, requireInt, sameBackend, wrap } from './record.ts';
import { mean, sum } from './reduce.ts';

export interface CrossEntropyOptions { ignoreIndex?: number; reduction?: 'mean' | 'sum' | 'none' }

/**
 * Cross-entropy of logits [N, C] against int32 targets [N]. 'mean' divides by the number of
 * targets that are not ignoreIndex (NaN when there are none, as in PyTorch).
 */
export function crossEntropy(logits0: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const logits = f32(logits0);
  const ignoreIndex = opts.ignoreIndex ?? -100, reduction = opts.reduction ?? 'mean';
  requireFloat('cross_entropy', logits);
  requireInt('cross_entropy', targets, 'targets');
  sameBackend('cross_entropy', logits, targets);
  if (logits.rank !== 2 || targets.rank !== 1 || targets.shape[0] !== logits.shape[0]) {
    throw new Error(`cross_entropy: expected logits [N, C] and targets [N], got ${shapeStr(logits.shape)} and ${shapeStr(targets.shape)}`);
  }
  const [rows, cols] = logits.shape as [number, number];
  const b = logits.backend;
  const { loss, valid } = b.crossEntropy(logits.storage, targets.storage, rows, cols, ignoreIndex);
  const perRow = record(wrap(b, loss, [rows]), 'cross_entropy', [logits], (gy) => [
    wrap(b, b.crossEntropyGrad(logits.storage, targets.storage, gy.storage, rows, cols, ignoreIndex), logits.shape),
  ]);
  const validT = wrap(b, valid, [rows]);
  if (reduction === 'none') return perRow;
  if (reduction === 'sum') return sum(perRow);
  return div(sum(perRow), sum(validT));
}

/** mean((a - b)^2), or the elementwise squares with reduction 'none'. */
export function mseLoss(a: Tensor, b: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  const sq = square(sub(a, b));
  if (reduction === 'none') return sq;
  return reduction === 'sum' ? sum(sq) : mean(sq);
}
