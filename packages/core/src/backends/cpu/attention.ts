// Scaled dot-product attention, forward and backward, one query row at a time. The backward
// recomputes probabilities from the saved log-sum-exp instead of storing the score matrix,
// the same scheme the flash-attention kernels use.
import type { AttentionArgs } from '../../backend.ts';

function maskValue(args: AttentionArgs, mask: Float32Array | undefined, b: number, h: number, i: number, j: number): number {
  if (args.causal && j > i + (args.tk - args.tq)) return -Infinity;
  if (!mask) return 0;
  return mask[b * args.maskBatchStride + h * args.maskHeadStride + i * args.tk + j]!;
}

export function attention(q: Float32Array, k: Float32Array, v: Float32Array, mask: Float32Array | undefined, args: AttentionArgs,
  out: Float32Array, lse: Float32Array): void {
  const { batch, heads, kvHeads, tq, tk, dim, dimV, scale } = args;
  const group = heads / kvHeads;
  const s = new Float64Array(tk), acc = new Float64Array(dimV);
  for (let b = 0; b < batch; b++) for (let h = 0; h < heads; h++) {
    const kh = Math.floor(h / group);
    const qBase = (b * heads + h) * tq * dim, kBase = (b * kvHeads + kh) * tk * dim, vBase = (b * kvHeads + kh) * tk * dimV;
    for (let i = 0; i < tq; i++) {
      let max = -Infinity;
      for (let j = 0; j < tk; j++) {
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += q[qBase + i * dim + d]! * k[kBase + j * dim + d]!;
        const sv = dot * scale + maskValue(args, mask, b, h, i, j);
        s[j] = sv;
        if (sv > max) max = sv;
      }
      const row = (b * heads + h) * tq + i, oBase = row * dimV;
      if (max === -Infinity) { // every key masked: output zeros, lse -inf
        out.fill(0, oBase, oBase + dimV);
        lse[row] = -Infinity;
        continue;
      }
      let sum = 0;
      acc.fill(0);
      for (let j = 0; j < tk; j++) {
        const p = Math.exp(s[j]! - max);
        sum += p;
        if (p !== 0) for (let d = 0; d < dimV; d++) acc[d] += p * v[vBase + j * dimV + d]!;
      }
      for (let d = 0; d < dimV; d++) out[oBase + d] = acc[d]! / sum;
      lse[row] = max + Math.log(sum);
    }
  }
}

export function attentionGrad(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
  gOut: Float32Array, mask: Float32Array | undefined, args: AttentionArgs, gq: Float32Array, gk: Float32Array, gv: Float32Array): void {
  const { batch, heads, kvHeads, tq, tk, dim, dimV, scale } = args;
  const group = heads / kvHeads;
  for (let b = 0; b < batch; b++) for (let h = 0; h < heads; h++) {
    const kh = Math.floor(h / group);
    const qBase = (b * heads + h) * tq * dim, kBase = (b * kvHeads + kh) * tk * dim, vBase = (b * kvHeads + kh) * tk * dimV;
    for (let i = 0; i < tq; i++) {
      const row = (b * heads + h) * tq + i, oBase = row * dimV;
      const l = lse[row]!;
      if (l === -Infinity) continue;
      let dsum = 0; // D_i = dO_i . O_i
      for (let d = 0; d < dimV; d++) dsum += gOut[oBase + d]! * out[oBase + d]!;
      for (let j = 0; j < tk; j++) {
        const mv = maskValue(args, mask, b, h, i, j);
        if (mv === -Infinity) continue;
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += q[qBase + i * dim + d]! * k[kBase + j * dim + d]!;
        const p = Math.exp(dot * scale + mv - l);
        let dp = 0;
        for (let d = 0; d < dimV; d++) {
          dp += gOut[oBase + d]! * v[vBase + j * dimV + d]!;
          gv[vBase + j * dimV + d] += p * gOut[oBase + d]!;
        }
        const ds = p * (dp - dsum) * scale;
        for (let d = 0; d < dim; d++) {
          gq[qBase + i * dim + d] += ds * k[kBase + j * dim + d]!;
          gk[kBase + j * dim + d] += ds * q[qBase + i * dim + d]!;
        }
      }
    }
  }
}
