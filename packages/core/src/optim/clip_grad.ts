// clip_grad_norm_: scales every gradient by min(1, maxNorm / (total norm + 1e-6)), the total
// norm taken over all gradients together. Everything stays on the device: the scale is a 0-dim
// tensor, so clipping never waits on a readback.
import { getBackend, noGrad, tidy } from '../engine.ts';
import { full } from '../ops/creation.ts';
import { abs, add, div, maximum, minimum, mul, sqrt, square } from '../ops/elementwise.ts';
import { max, sum } from '../ops/reduce.ts';
import type { Tensor } from '../tensor.ts';

/**
 * Clips the gradients of params in place (each .grad keeps its identity) and returns the total
 * norm before clipping, as a 0-dim tensor (read it with .item() if you need the number).
 * normType 2 is the Euclidean norm of all gradients concatenated; Infinity is the largest |g|.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType: 2 | typeof Infinity = 2): Tensor {
  if (normType !== 2 && normType !== Infinity) throw new RangeError(`clipGradNorm: normType must be 2 or Infinity, got ${normType}`);
  const list = [...params];
  const grads = list.flatMap((p) => (p.grad ? [p.grad] : []));
  if (grads.length === 0) return full([], 0, { backend: list[0]?.backend ?? getBackend() });
  return tidy(() => noGrad(() => {
    const parts = grads.map((g) => (normType === 2 ? sum(square(g)) : max(abs(g))));
    const combined = parts.reduce((a, b) => (normType === 2 ? add(a, b) : maximum(a, b)));
    const total = normType === 2 ? sqrt(combined) : combined;
    // PyTorch multiplies even when the factor clamps to 1; g * 1 leaves g bit-identical.
    const scale = minimum(div(maxNorm, add(total, 1e-6)), 1);
    for (const g of grads) g.assign(mul(g, scale));
    return total;
  }));
}
