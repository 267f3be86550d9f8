// Gaze reconstruction: what the reconstructive tokens "remember" of the gaze region. The
// hidden states at the image positions go through ln_pre, the denoiser DDIM-samples a packed
// latent from them, and the VAE decodes it (unpacked and un-scaled) to an image.
import { F, noGrad, tidy, type Generator } from '@reconvla/core';
import { unpackLatents } from '@reconvla/vae';
import type { ReconVLA } from '../model.ts';
import { collatePrompts } from '../prompt.ts';
import type { RgbImage } from '@reconvla/siglip';
import type { Processor, Sample } from '../processor.ts';
import { chwToRgb, type RgbBytes } from './image_io.ts';

export interface ReconstructOptions {
  /** DDIM steps (default 50, the respacing upstream samples with); 0 = full DDPM. */
  ddimSteps?: number;
  generator?: Generator;
}

export async function reconstructGaze(model: ReconVLA, processor: Processor, sample: Omit<Sample, 'actions'>, opts: ReconstructOptions = {}): Promise<RgbBytes> {
  const cfg = model.config;
  const img = tidy(() => noGrad(() => {
    const prompts = collatePrompts([processor.promptIds(sample)], cfg.prompt, false);
    const { plan, inputsEmbeds } = model.embedInputs(processor.samplePixels(sample, model.backend), prompts, processor.stateValues([sample.state], model.backend));
    const { hiddenStates } = model.runLanguageModel(plan, inputsEmbeds);
    const z = model.denoiser.lnPre(model.reconTokens(plan, hiddenStates));
    const ddim = opts.ddimSteps ?? 50;
    const latent = model.denoiser.sample(z, { ...(ddim > 0 ? { ddimSteps: ddim } : {}), ...(opts.generator ? { generator: opts.generator } : {}) });
    const decoded = model.vae.decode(model.vae.unscaleLatents(unpackLatents(latent)));
    return F.minimum(F.maximum(decoded, -1), 1);
  }));
  const [, , h, w] = img.shape as [number, number, number, number];
  const values = await img.data();
  img.dispose();
  return chwToRgb(values, h, w);
}

/** The VAE's own reconstruction of an image (its upper bound on what the recon can show). */
export async function vaeRoundTrip(model: ReconVLA, processor: Processor, image: RgbImage): Promise<RgbBytes> {
  const s = model.config.decodeImageSize;
  const out = tidy(() => noGrad(() => {
    const x = processor.pixels([image], model.backend);
    return F.minimum(F.maximum(model.vae.decode(model.vae.encode(model.targetLatent(x).imagesVae).mean), -1), 1);
  }));
  const values = await out.data();
  out.dispose();
  return chwToRgb(values, s, s);
}
