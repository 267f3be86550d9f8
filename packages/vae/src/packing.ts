// FLUX's 2x2 latent packing as ReconVLA uses it: z.unfold(2,2,2).unfold(3,2,2) then
// 'b c h w p1 p2 -> b (c p1 p2) h w', i.e. out[b, c*4 + p1*2 + p2, i, j] = z[b, c, 2i+p1, 2j+p2].
import { F, type Tensor } from '@reconvla/core';

/** [B, C, H, W] -> [B, 4C, H/2, W/2]. */
export function packLatents(z: Tensor): Tensor {
  const [b, c, h, w] = z.shape as [number, number, number, number];
  if (z.rank !== 4 || h % 2 !== 0 || w % 2 !== 0) throw new Error(`packLatents: expected [B, C, H, W] with even H, W; got [${z.shape.join(', ')}]`);
  const split = F.reshape(z, [b, c, h / 2, 2, w / 2, 2]); // b c i p1 j p2
  return F.reshape(F.permute(split, [0, 1, 3, 5, 2, 4]), [b, c * 4, h / 2, w / 2]);
}

/** The inverse: [B, 4C, h, w] -> [B, C, 2h, 2w]. */
export function unpackLatents(x: Tensor): Tensor {
  const [b, c4, h, w] = x.shape as [number, number, number, number];
  if (x.rank !== 4 || c4 % 4 !== 0) throw new Error(`unpackLatents: expected [B, 4C, h, w]; got [${x.shape.join(', ')}]`);
  const split = F.reshape(x, [b, c4 / 4, 2, 2, h, w]); // b c p1 p2 i j
  return F.reshape(F.permute(split, [0, 1, 4, 2, 5, 3]), [b, c4 / 4, 2 * h, 2 * w]);
}
