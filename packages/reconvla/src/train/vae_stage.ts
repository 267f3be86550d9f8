// The VAE stage. Upstream loads FLUX's pretrained VAE and freezes it; we have no pretrained
// weights, so the tiny VAE is first fitted to the gaze crops as an ordinary KL autoencoder
// (reconstruction MSE plus a small KL term), then frozen. Its latent shift and scale are then
// measured on data, as FLUX's shift_factor / scaling_factor were, so that the denoiser's target
// (z - shift) * scale has zero mean and unit variance.
import { F, noGrad, tidy, type Generator, type Tensor } from '@reconvla/core';
import { preprocessImages, type RgbImage } from '@reconvla/siglip';
import type { ReconVLA } from '../model.ts';
import type { HostBatch } from './batch.ts';

const KL_WEIGHT = 1e-3;

function vaeInputs(model: ReconVLA, images: readonly RgbImage[]): Tensor {
  return preprocessImages(images, { size: model.config.decodeImageSize, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], backend: model.backend });
}

/** MSE(decode(sample), x) + KL_WEIGHT * mean KL(q(z|x) || N(0, 1)). */
export function vaeLoss(model: ReconVLA, images: readonly RgbImage[], generator: Generator): Tensor {
  const x = vaeInputs(model, images);
  const posterior = model.vae.encode(x);
  const recon = model.vae.decode(posterior.sample({ generator }));
  const { mean, logvar } = posterior;
  const kl = F.mul(F.mean(F.sub(F.add(F.square(mean), F.exp(logvar)), F.add(logvar, 1))), 0.5);
  return F.add(F.mseLoss(recon, x), F.mul(kl, KL_WEIGHT));
}

/** Mean and 1/std of posterior means over a few batches. */
export async function calibrateLatentScale(model: ReconVLA, batches: AsyncIterator<HostBatch>, count: number): Promise<{ shift: number; scale: number }> {
  let sum = 0, sumSq = 0, n = 0;
  for (let i = 0; i < count; i++) {
    const next = await batches.next();
    if (next.done) break;
    const z = tidy(() => noGrad(() => model.vae.encode(vaeInputs(model, next.value.targets)).mean));
    const data = await z.data();
    z.dispose();
    for (const v of data) { sum += v; sumSq += v * v; n++; }
  }
  const mean = sum / n;
  const std = Math.sqrt(Math.max(sumSq / n - mean * mean, 1e-12));
  return { shift: mean, scale: 1 / std };
}
