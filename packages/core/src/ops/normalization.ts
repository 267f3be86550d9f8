// layer_norm, rms_norm and group_norm: the backend normalises rows; the affine part is
// ordinary broadcasting arithmetic, so its gradient comes for free.
import { shapeStr, sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { add, mul } from './elementwise.ts';
import { reshape } from './layout.ts';
import { f32, record, requireFloat, wrap } from './record.ts';

/** Rows of [rows, cols] scaled to zero mean (unless rms) and unit variance/RMS. */
function normalizeRows(x0: Tensor, cols: number, eps: number, rms: boolean): Tensor {
  const x = f32(x0);
  const rows = x.size / cols, b = x.backend;
  const { y, mean, rstd } = b.normalize(x.storage, rows, cols, eps, rms);
  b.free(mean);
  const out = wrap(b, y, x.shape);
  const rstdT = wrap(b, rstd, [rows]);
  return record(out, rms ? 'rms_norm' : 'layer_norm', [x], (gy) => [wrap(b, b.normalizeGrad(out.storage, rstdT.storage, gy.storage, rows, cols, rms), x.shape)]);
}

function normalizedCols(x: Tensor, normalizedShape: readonly number[], op: string): number {
  const tail = x.shape.slice(x.rank - normalizedShape.length);
  if (normalizedShape.length > x.rank || tail.some((d, i) => d !== normalizedShape[i])) {
    throw new Error(`${op}: normalized shape ${shapeStr(normalizedShape)} does not match the end of input ${shapeStr(x.shape)}`);
  }
  return sizeOf(normalizedShape);
}

/** (x - mean) / sqrt(var + eps) * weight + bias over the trailing normalizedShape dims. */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  requireFloat('layer_norm', x);
  let y = normalizeRows(x, normalizedCols(x, normalizedShape, 'layer_norm'), eps, false);
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/** weight * x / sqrt(mean(x^2) + eps) over the last dim (Qwen2RMSNorm, in float32). */
export function rmsNorm(x: Tensor, weight?: Tensor | null, eps = 1e-6): Tensor {
  requireFloat('rms_norm', x);
  const y = normalizeRows(x, x.shape[x.rank - 1]!, eps, true);
  return weight ? mul(weight, y) : y;
}

/** GroupNorm over [N, C, ...]: statistics per (sample, group of C/groups channels). */
export function groupNorm(x: Tensor, groups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  requireFloat('group_norm', x);
  const n = x.shape[0]!, c = x.shape[1]!;
  if (x.rank < 2 || c % groups !== 0) throw new Error(`group_norm: ${c} channels of ${shapeStr(x.shape)} do not split into ${groups} groups`);
  const cols = x.size / (n * groups);
  let y = reshape(normalizeRows(reshape(x, [n * groups, cols]), cols, eps, false), x.shape);
  const affineShape = [c, ...x.shape.slice(2).map(() => 1)];
  if (weight) y = mul(y, reshape(weight, affineShape));
  if (bias) y = add(y, reshape(bias, affineShape));
  return y;
}
