// The DiT's fixed embeddings, computed on the host: sinusoidal timestep features and the
// 2D sin-cos position table. Both follow upstream's arithmetic exactly (see comments).
import { F, type Backend, type Tensor } from '@reconvla/core';

const f32 = Math.fround;

/**
 * t_freq [N, dim] = cat([cos(t*f), sin(t*f)]) for int32 timesteps t [N], with
 * f[i] = exp(-ln(maxPeriod) * i / (dim/2)), cos first. Upstream computes this in float32
 * whatever the model dtype; f is rounded to float32 at every step as torch does, because t*f
 * reaches ~1000, where one ulp of f moves cos by ~6e-5.
 */
export function timestepFrequencies(t: Tensor, dim: number, maxPeriod: number): Tensor {
  const half = dim / 2;
  const freqs = new Float32Array(half);
  const negLog = f32(-Math.log(maxPeriod));
  for (let i = 0; i < half; i++) freqs[i] = f32(Math.exp(f32(f32(negLog * i) / half)));
  const args = F.mul(F.reshape(F.astype(t, 'float32'), [t.size, 1]), F.tensor(freqs, [1, half], { backend: t.backend }));
  return F.concat([F.cos(args), F.sin(args)], -1);
}

/**
 * MAE/DiT 2D sin-cos position embedding [1, side*side, dim] for row-major tokens k = r*side + c.
 * Dims [0, dim/2) encode the column, [dim/2, dim) the row (np.meshgrid(grid_w, grid_h) puts w
 * first); each half is [sin(p*w_j)]_{j<dim/4} ++ [cos(p*w_j)]_{j<dim/4}, w_j = 10000^(-j/(dim/4)),
 * in float64 and then rounded to float32.
 */
export function sinCosPosEmbed2d(dim: number, side: number, backend: Backend): Tensor {
  const quarter = dim / 4;
  const omega = Array.from({ length: quarter }, (_, j) => 1 / Math.pow(10000, j / quarter));
  const out = new Float32Array(side * side * dim);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      const row = out.subarray((r * side + c) * dim, (r * side + c + 1) * dim);
      [c, r].forEach((p, half) => {
        for (let j = 0; j < quarter; j++) {
          row[half * 2 * quarter + j] = Math.sin(p * omega[j]!);
          row[half * 2 * quarter + quarter + j] = Math.cos(p * omega[j]!);
        }
      });
    }
  }
  return F.tensor(out, [1, side * side, dim], { backend });
}
