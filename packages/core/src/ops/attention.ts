// scaled_dot_product_attention with causal and boolean/additive masks, grouped-query heads.
import type { AttentionArgs } from '../backend.ts';
import { padShape, shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { astype, where } from './elementwise.ts';
import { expand } from './layout.ts';
import { f32, record, requireFloat, sameBackend, scalarLike, wrap } from './record.ts';

export interface AttentionOptions {
  /** Hide key j from query i when j > i (aligned to the end when tk > tq). */
  causal?: boolean;
  /** Broadcastable to [B, H, tq, tk]: int32 (1 = may attend, 0 = masked) or float (added to the scores). */
  mask?: Tensor | null;
  /** Defaults to 1/sqrt(head dim). */
  scale?: number;
}

/**
 * softmax(q k^T * scale + mask) v for q [B, H, tq, D], k [B, Hkv, tk, D], v [B, Hkv, tk, Dv];
 * H must be a multiple of Hkv (grouped-query attention shares each k/v head among H/Hkv heads).
 * The mask gets no gradient.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  requireFloat('attention', q, k, v);
  sameBackend('attention', q, k, v);
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new Error(`attention: q, k, v must be [B, H, T, D], got ${shapeStr(q.shape)}, ${shapeStr(k.shape)}, ${shapeStr(v.shape)}`);
  }
  const [batch, heads, tq, dim] = q.shape as [number, number, number, number];
  const [kb, kvHeads, tk, kd] = k.shape as [number, number, number, number];
  const dimV = v.shape[3]!;
  if (kb !== batch || kd !== dim || v.shape[0] !== batch || v.shape[1] !== kvHeads || v.shape[2] !== tk || heads % kvHeads !== 0) {
    throw new Error(`attention: incompatible q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)}`);
  }
  const b = q.backend;
  let mask: Tensor | undefined;
  let maskBatchStride = 0, maskHeadStride = 0;
  if (opts.mask) {
    const m0 = opts.mask;
    sameBackend('attention', q, m0);
    if (m0.rank > 4) throw new Error(`attention: mask ${shapeStr(m0.shape)} has more than 4 dims`);
    let m = m0.dtype === 'int32' ? where(m0, scalarLike(0, b, 'float32'), scalarLike(-Infinity, b, 'float32')) : astype(m0, 'float32');
    const [mb, mh, mq, mk] = padShape(m.shape, 4) as [number, number, number, number];
    if (![1, batch].includes(mb) || ![1, heads].includes(mh) || ![1, tq].includes(mq) || ![1, tk].includes(mk)) {
      throw new Error(`attention: mask ${shapeStr(m0.shape)} does not broadcast to [${batch}, ${heads}, ${tq}, ${tk}]`);
    }
    m = expand(m.reshape(mb, mh, mq, mk), [mb, mh, tq, tk]);
    mask = m;
    maskHeadStride = mh === 1 ? 0 : tq * tk;
    maskBatchStride = mb === 1 ? 0 : mh * tq * tk;
  }
  const args: AttentionArgs = {
    batch, heads, kvHeads, tq, tk, dim, dimV, scale: opts.scale ?? 1 / Math.sqrt(dim), causal: opts.causal ?? false,
    maskBatchStride, maskHeadStride, ...(mask ? { mask: mask.storage } : {}),
  };
  const { out, lse } = b.attention(q.storage, k.storage, v.storage, args);
  const y = wrap(b, out, [batch, heads, tq, dimV]);
  const lseT = wrap(b, lse, [batch, heads, tq]);
  const maskT = mask; // keep the mask alive for the backward pass
  return record(y, 'attention', [q, k, v], (gy) => {
    // The backward kernels are float32 only: a float16 k/v (a frozen half KV cache) is cast here.
    const g = b.attentionGrad(f32(q).storage, f32(k).storage, f32(v).storage, y.storage, lseT.storage, gy.storage,
      { ...args, ...(maskT ? { mask: maskT.storage } : {}) });
    return [wrap(b, g.gq, q.shape), wrap(b, g.gk, k.shape), wrap(b, g.gv, v.shape)];
  });
}
