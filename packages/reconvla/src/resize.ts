// F.interpolate(mode='bilinear', align_corners=False, antialias=False) as two matrix products:
// a bilinear resize is separable, out = Rh @ x @ Rw^T, with R holding each output pixel's two
// source weights. Runs on any backend and is differentiable for free.
import { F, type Backend, type Tensor } from '@reconvla/core';

/** [out, in] interpolation weights along one axis (PyTorch's area_pixel_compute_source_index). */
export function bilinearWeights(inSize: number, outSize: number): Float32Array {
  const w = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(scale * (o + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = src - i0;
    w[o * inSize + i0]! += 1 - l1;
    w[o * inSize + i1]! += l1;
  }
  return w;
}

function weights(inSize: number, outSize: number, backend: Backend): Tensor {
  return F.tensor(bilinearWeights(inSize, outSize), [outSize, inSize], { backend });
}

/** x [B, C, H, W] -> [B, C, outH, outW]. */
export function resizeBilinear(x: Tensor, outH: number, outW: number): Tensor {
  const [, , h, w] = x.shape as [number, number, number, number];
  if (h === outH && w === outW) return x;
  const rows = F.matmul(weights(h, outH, x.backend), x); // [B, C, outH, W]
  return F.matmul(rows, F.transpose(weights(w, outW, x.backend), 0, 1));
}
