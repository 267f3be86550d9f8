// The one diffusion primitive: per-sample linear combinations of latent tensors. q_sample and
// every DDPM/DDIM update are of this form once the schedule coefficients are gathered per
// sample, so each is a single dispatch for a whole batch.
import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { mul } from './elementwise.ts';
import { reshape } from './layout.ts';
import { f32, record, requireFloat, sameBackend, wrap } from './record.ts';
import { sum } from './reduce.ts';

/**
 * out[n, ...] = sum_k coefs[k][n] * xs[k][n, ...] for tensors xs of one shape [N, ...] and
 * coefficient vectors [N]. Differentiable in the xs and in the coefficients.
 */
export function combineRows(xs0: readonly Tensor[], coefs0: readonly Tensor[]): Tensor {
  const xs = xs0.map(f32), coefs = coefs0.map(f32);
  if (xs.length === 0 || xs.length > 3 || xs.length !== coefs.length) {
    throw new Error(`combineRows: needs 1 to 3 tensors with one coefficient vector each, got ${xs.length} and ${coefs.length}`);
  }
  requireFloat('combineRows', ...xs, ...coefs);
  const b = sameBackend('combineRows', ...xs, ...coefs);
  const shape = xs[0]!.shape, rows = shape[0] ?? 1, cols = xs[0]!.size / Math.max(rows, 1);
  for (const x of xs) if (x.shape.join() !== shape.join()) throw new Error(`combineRows: shapes differ: ${xs.map((t) => shapeStr(t.shape)).join(', ')}`);
  for (const c of coefs) if (c.rank !== 1 || c.shape[0] !== rows) throw new Error(`combineRows: coefficients must be [${rows}], got ${shapeStr(c.shape)}`);
  const out = wrap(b, b.combineRows(xs.map((x) => x.storage), coefs.map((c) => c.storage), rows, cols), shape);
  const col = [rows, ...shape.slice(1).map(() => 1)];
  return record(out, 'combineRows', [...xs, ...coefs], (gy) => [
    ...coefs.map((c, k) => (xs[k]!.requiresGrad ? mul(gy, reshape(c, col)) : null)),
    ...xs.map((x, k) => (coefs[k]!.requiresGrad ? reshape(sum(mul(gy, x), shape.slice(1).map((_, i) => i + 1)), [rows]) : null)),
  ]);
}
