// Rotary position embedding in Qwen2's rotate_half convention.
import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { astype, cos as cosOp, mul, sin as sinOp } from './elementwise.ts';
import { concat, reshape } from './layout.ts';
import { f32, record, requireFloat, requireInt, sameBackend, wrap } from './record.ts';
import { noGrad } from '../engine.ts';

/**
 * cos and sin tables [B, T, dim] for integer positions [B, T]:
 * inv_freq = 1 / theta^(arange(0, dim, 2)/dim), emb = cat(pos*inv_freq, pos*inv_freq).
 */
export function rotaryCosSin(positionIds: Tensor, dim: number, theta: number): { cos: Tensor; sin: Tensor } {
  requireInt('rotary', positionIds, 'position ids');
  if (positionIds.rank !== 2) throw new Error(`rotary: position ids must be [B, T], got ${shapeStr(positionIds.shape)}`);
  return noGrad(() => {
    const half = dim / 2;
    // inv_freq in float32 as transformers computes it (int64 arange -> float, then pow).
    const invFreq = new Float32Array(half);
    for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(theta, (2 * i) / dim);
    const b = positionIds.backend;
    const inv = wrap(b, b.fromArray(invFreq), [1, 1, half]);
    const pos = reshape(astype(positionIds, 'float32'), [...positionIds.shape, 1]);
    const freqs = mul(pos, inv);
    const emb = concat([freqs, freqs], -1);
    return { cos: cosOp(emb), sin: sinOp(emb) };
  });
}

/** x [B, H, T, D] rotated by cos/sin [B, T, D]: x*cos + rotate_half(x)*sin. */
export function applyRotary(x0: Tensor, cos0: Tensor, sin0: Tensor): Tensor {
  const x = f32(x0), cos = f32(cos0), sin = f32(sin0);
  requireFloat('rotary', x, cos, sin);
  sameBackend('rotary', x, cos, sin);
  const [b, h, t, d] = x.shape as [number, number, number, number];
  if (x.rank !== 4 || d % 2 !== 0 || cos.shape.join() !== `${b},${t},${d}` || sin.shape.join() !== cos.shape.join()) {
    throw new Error(`rotary: x must be [B, H, T, D] with even D and cos/sin [B, T, D]; got ${shapeStr(x.shape)}, ${shapeStr(cos.shape)}, ${shapeStr(sin.shape)}`);
  }
  const be = x.backend;
  const out = wrap(be, be.rope(x.storage, cos.storage, sin.storage, b, h, t, d, false), x.shape);
  return record(out, 'rope', [x], (gy) => [wrap(be, be.rope(gy.storage, cos.storage, sin.storage, b, h, t, d, true), x.shape)]);
}
