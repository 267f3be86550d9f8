// The locator (ours, not upstream's): an instruction-conditioned keypoint network beside the
// vision tower. Why: on the tabletop the tiny SigLIP, trained from scratch on a few hundred scenes,
// memorises scenes instead of finding the named object (a ViT readout, even with early convolutions
// and FiLM, reaches 0.05-0.09 box-centre error on training frames and 0.46-0.53 held out, worse
// than a constant; see docs/reconvla.md#measured). A convolution is the same at every position and a spatial softmax
// reads a position out of a heat map without a per-position weight, so neither can memorise where
// things were; the instruction enters early (FiLM, as RT-1's image tokenizer) so the heat map can be
// "the red block" rather than "every object".
//
//   pixels [B x views, 3, S, S] -> conv3x3 -> ReLU -> conv3x3 -> ReLU -> FiLM(instruction)
//     -> conv3x3 -> ReLU -> conv1x1 to K heat maps -> softmax over the S x S positions
//     -> K expected (x, y) in [-1, 1]
// (python/localisation_probe.py's "film" network, which found objects on unseen scenes). FiLM's
// scale and shift are the mean of the instruction's words' rows in the locator's own table, N(0, 1)
// at init as the probe's EmbeddingBag: reading them off the LLM's word embeddings (N(0, 0.02))
// through a zero-initialised Linear gave it inputs ~100x smaller, so under Adam it grew ~100x
// slower (e18's stage loss stalled at ~0.2; with this table e19's fell to ~0.1), and joint
// fine-tuning then moved those embeddings under it.
//   all views' points [B, views x K x 2] -> [p, sin(2^k pi p), cos(2^k pi p)], k < fourier_bands
//     -> Linear -> GELU -> Linear: added to the state token.
// Why Fourier features: a policy must turn a point into sharp decisions ("the block is 2 cm left of
// the gripper: dx -0.3"). From the raw points (e21) it did not even learn to copy keypoint 0 into
// its grounding answer (off by 0.28 on training frames where the keypoint was off by 0.09); the
// robot state had the same problem until it got these features (e1 -> e4).
//
// Keypoint 0 of the first view is supervised with the gaze box centre (Processor.batchInputs,
// locatorTarget); the others are free, learned through the action loss.
import { F, Module, nn, type Tensor } from '@reconvla/core';
import type { InitOptions } from '@reconvla/siglip';
import type { LocatorConfig, PromptConfig } from './config.ts';
import type { PromptBatch } from './prompt.ts';

/** The keypoint coordinates of an S x S grid's pixel centres, row-major: [S*S, 2] as (x, y) in [-1, 1]. */
export function pixelCentreGrid(size: number): Float32Array {
  const g = new Float32Array(size * size * 2);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      g[(y * size + x) * 2] = (2 * x + 1) / size - 1;
      g[(y * size + x) * 2 + 1] = (2 * y + 1) / size - 1;
    }
  }
  return g;
}

/** Softmax over each map's positions, then the expected pixel centre: [N, K, H, W] -> [N, K, 2]. */
export function spatialSoftmax(maps: Tensor): Tensor {
  const [n, k, h, w] = maps.shape as [number, number, number, number];
  if (h !== w) throw new Error(`spatialSoftmax: maps [${maps.shape.join(', ')}] must be square`);
  const p = F.softmax(F.reshape(maps, [n, k, h * w]), -1);
  return F.matmul(p, F.tensor(pixelCentreGrid(h), [h * w, 2], { backend: maps.backend }));
}

/**
 * Each row's instruction as the mean of its word embeddings [B, D]: the ids before the first image
 * placeholder (the layouts that start with the instruction; the config refuses "image-instr").
 */
export function instructionEmbedding(prompts: PromptBatch, embedTokens: Tensor, cfg: PromptConfig): Tensor {
  const { batchSize: b, seqLen: t, inputIds } = prompts;
  const ids = new Int32Array(b * t).fill(cfg.padTokenId), weights = new Float32Array(b * t);
  for (let r = 0; r < b; r++) {
    let n = 0;
    while (n < t && inputIds[r * t + n] !== cfg.imageTokenIndex) n++;
    if (n === 0 || n === t) throw new Error(`instructionEmbedding: row ${r} has ${n === t ? 'no image placeholder' : 'no instruction before its image placeholder'}`);
    for (let i = 0; i < n; i++) { ids[r * t + i] = inputIds[r * t + i]!; weights[r * t + i] = 1 / n; }
  }
  const backend = embedTokens.backend;
  const embedded = F.embedding(F.tensor(ids, [b, t], { backend, dtype: 'int32' }), embedTokens); // [B, T, D]
  return F.reshape(F.matmul(F.tensor(weights, [b, 1, t], { backend }), embedded), [b, embedTokens.shape[1]!]);
}

export interface LocatorOutput {
  /** [B, views, K, 2] each view's keypoints, (x, y) in [-1, 1] of the image. */
  points: Tensor;
  /** [B, D] what is added to the state token's features. */
  features: Tensor;
}

export class Locator extends Module {
  readonly conv1: nn.Conv2d;
  readonly conv2: nn.Conv2d;
  /** FiLM per word [vocab, 2C]: an instruction's per-channel scale and shift is the mean of its words' rows. */
  readonly words: nn.Embedding;
  readonly conv3: nn.Conv2d;
  readonly heat: nn.Conv2d;
  readonly proj1: nn.Linear;
  readonly proj2: nn.Linear;

  constructor(readonly cfg: LocatorConfig, readonly prompt: PromptConfig, vocabSize: number, readonly views: number, readonly hidden: number, init: InitOptions = {}) {
    super();
    const c = cfg.channels;
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(3, c, 3, { ...init, padding: 1 }));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(c, c, 3, { ...init, padding: 1 }));
    this.words = this.registerModule('words', new nn.Embedding(vocabSize, 2 * c, init));
    this.conv3 = this.registerModule('conv3', new nn.Conv2d(c, c, 3, { ...init, padding: 1 }));
    this.heat = this.registerModule('heat', new nn.Conv2d(c, cfg.keypoints, 1, init));
    this.proj1 = this.registerModule('proj1', new nn.Linear(views * cfg.keypoints * 2 * (1 + 2 * cfg.fourierBands), hidden, init));
    this.proj2 = this.registerModule('proj2', new nn.Linear(hidden, hidden, init));
  }

  /** Freezes what makes the keypoints (convolutions, FiLM table, heat maps), not the projection the locator stage never trains. */
  freezeKeypoints(): void {
    for (const m of [this.conv1, this.conv2, this.words, this.conv3, this.heat]) m.requiresGrad_(false);
  }

  /** The instructions' FiLM scale and shift [B, 2C]: the mean of their words' rows. */
  film(prompts: PromptBatch): Tensor {
    return instructionEmbedding(prompts, this.words.weight, this.prompt);
  }

  /** pixels [B x views, 3, S, S] (each sample's views in order), one prompt per sample. */
  forward(pixels: Tensor, prompts: PromptBatch): LocatorOutput {
    const b = prompts.batchSize, k = this.cfg.keypoints;
    const points = this.keypoints(pixels, this.film(prompts), this.views); // [B x views, K, 2]
    const flat = F.reshape(points, [b, this.views * k * 2]);
    const encoded = fourierFeatures(flat, this.cfg.fourierBands);
    return { points: F.reshape(points, [b, this.views, k, 2]), features: this.proj2.forward(this.proj1.forward(encoded, 'gelu_tanh')) };
  }

  /** The keypoints alone [B x views, K, 2] of `views` images per sample, film [B, 2C] (the locator stage passes the first view only). */
  keypoints(pixels: Tensor, film: Tensor, views: number): Tensor {
    const n = pixels.shape[0]!, b = film.shape[0]!, c = this.cfg.channels;
    if (n !== b * views) throw new Error(`Locator: ${n} images for ${b} instructions of ${views} view(s)`);
    const h = F.relu(this.conv2.forward(F.relu(this.conv1.forward(pixels))));
    // The same scale and shift for every view of a sample: [B, 2C] -> [B x views, 2C, 1, 1].
    const perView = F.reshape(F.repeat(F.reshape(film, [b, 1, 2 * c]), [1, views, 1]), [n, 2 * c, 1, 1]);
    const scale = F.add(F.slice(perView, 1, 0, c), 1), shift = F.slice(perView, 1, c, 2 * c);
    const conditioned = F.add(F.mul(h, scale), shift);
    return spatialSoftmax(this.heat.forward(F.relu(this.conv3.forward(conditioned))));
  }
}

/** [B, N] -> [B, N x (1 + 2 bands)]: x, then sin(2^k pi x) and cos(2^k pi x) for each k < bands. */
export function fourierFeatures(x: Tensor, bands: number): Tensor {
  const parts = [x];
  for (let k = 0; k < bands; k++) {
    const scaled = F.mul(x, 2 ** k * Math.PI);
    parts.push(F.sin(scaled), F.cos(scaled));
  }
  return bands === 0 ? x : F.concat(parts, 1);
}

/**
 * The locator's auxiliary loss: mean |keypoint 0 of the first view - target| over both coordinates
 * of the samples whose gaze box is in view. target [B, 2], mask [B] (1 in view, 0 not).
 */
export function locatorLoss(points: Tensor, target: Tensor, mask: Float32Array): Tensor {
  const b = points.shape[0]!;
  if (target.shape[0] !== b || target.shape[1] !== 2 || mask.length !== b) throw new Error(`locatorLoss: target [${target.shape.join(', ')}] and mask of ${mask.length} for ${b} samples (want [${b}, 2] and ${b})`);
  const first = F.reshape(F.slice(F.slice(points, 1, 0, 1), 2, 0, 1), [b, 2]);
  const seen = mask.reduce((a, m) => a + m, 0);
  const m = F.tensor(mask, [b, 1], { backend: points.backend });
  return F.div(F.sum(F.mul(F.abs(F.sub(first, target)), m)), Math.max(1, 2 * seen));
}
