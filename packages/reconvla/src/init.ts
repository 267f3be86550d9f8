// Initialisation for training from scratch, where upstream starts from pretrained parts. By
// state-dict key, so it follows the checkpoint layout rather than class internals:
// - the LLM as transformers' Qwen2PreTrainedModel._init_weights: every Linear and the embedding
//   N(0, initializer_range), biases 0 (layer defaults would give the tied embedding N(0, 1) rows,
//   i.e. logits of size ~sqrt(hidden) and a first loss of ~50 instead of ~log(vocab));
// - the denoiser as DiT.initialize_weights: xavier-uniform Linears (x_embedder viewed as one),
//   zero biases, N(0, 0.02) timestep MLP, and adaLN-Zero: every modulation and the final layer
//   start at zero, so each block starts as the identity and the first prediction is 0.
// - the vision tower as transformers' SiglipPreTrainedModel._init_weights (initSiglipWeights): with
//   the layer defaults its position embedding is N(0, 1), ~4x a patch's content, and after the
//   projector only ~0.5% of a patch feature's variance depended on the image.
// The projector (LLaVA's nn.Linear) and the VAE (diffusers' layers) keep their layer defaults.
import { nn, noGrad, type Generator } from '@reconvla/core';
import { initSiglipWeights } from '@reconvla/siglip';
import type { ReconVLA } from './model.ts';

const OTHER_PARTS = /^model\.(vision_tower|mm_projector|pixel_decoder|mm_inv_projector)\./;
const DENOISER = 'model.mm_inv_projector.net.';

export function initFromScratch(model: ReconVLA, generator?: Generator): void {
  const std = (model.config.json.initializer_range as number | undefined) ?? 0.02;
  initSiglipWeights(model.visionTower, generator, 'vision_model.');
  noGrad(() => {
    for (const [key, p] of model.namedParameters()) {
      // The locator (ours): its FiLM table N(0, 1) and its convolutions as PyTorch's EmbeddingBag and
      // Conv2d leave them (the probe's network), its linears like the LLM's.
      if (key.startsWith('model.locator.words.') || (key.startsWith('model.locator.') && p.rank === 4)) continue;
      if (!OTHER_PARTS.test(key)) {
        if (key.endsWith('.bias')) nn.init.zeros_(p);
        else if (p.rank === 2) nn.init.normal_(p, 0, std, generator);
        continue;
      }
      if (!key.startsWith(DENOISER)) continue;
      const k = key.slice(DENOISER.length);
      if (/adaLN_modulation|^final_layer\.linear/.test(k)) nn.init.zeros_(p);
      else if (k.endsWith('.bias')) nn.init.zeros_(p);
      else if (k.startsWith('t_embedder.mlp.')) nn.init.normal_(p, 0, 0.02, generator);
      else nn.init.xavierUniform_(p, 1, generator);
    }
  });
}
