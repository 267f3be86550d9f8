// The processor: what turns a robot's raw inputs into model inputs, shared by training and the
// policy so both see exactly the same encoding. Images go through SigLIP's preprocessing, the
// instruction through the word tokenizer, the state through the action tokenizer after mapping
// each dimension's range to [-1, 1], and actions (training only) through the action tokenizer.
import { tensor, type Backend, type Tensor } from '@reconvla/core';
import { preprocessImages, type RgbImage } from '@reconvla/siglip';
import { ActionTokenizer } from './action_tokenizer.ts';
import { stateFeatureWidth, type ReconVLAConfig } from './config.ts';
import type { ReconInputs } from './model.ts';
import { buildPromptIds, collatePrompts, maskLabels } from './prompt.ts';
import type { HostBatch } from './train/batch.ts';
import { WordTokenizer } from './word_tokenizer.ts';

export interface Sample {
  /** One image per camera view of the config (image_views), in that order. */
  images: RgbImage[];
  instruction: string;
  /** Raw robot state (config.prompt.state_dim values). */
  state: ArrayLike<number>;
  /** action_chunk x action_dim values, step-major; absent at inference. */
  actions?: ArrayLike<number>;
  /**
   * Training with explicit grounding (prompt.grounding_tokens 2 or 2 x views): the gaze box centre
   * in the first view (or in each view, in image_views order), x and y in [-1, 1] (groundingOf);
   * NaN where a view's box is out of view, null where all are (such tokens are fed as 0 but not
   * supervised).
   */
  grounding?: ArrayLike<number> | null;
}

/** The explicit-grounding values of a gaze box: its centre in an image of width x height, in [-1, 1]. */
export function groundingOf(box: readonly [number, number, number, number], width: number, height: number): [number, number] {
  return [(box[0] + box[2]) / width - 1, (box[1] + box[3]) / height - 1];
}

/** Grounding value i as fed: 0 for a view out of view (NaN) or a sample with no grounding (null). */
function groundingValue(grounding: ArrayLike<number> | null | undefined, i: number): number {
  const v = grounding ? grounding[i]! : NaN;
  return Number.isNaN(v) ? 0 : v;
}

export class Processor {
  readonly words: WordTokenizer;
  readonly actions: ActionTokenizer;

  constructor(readonly config: ReconVLAConfig) {
    if (!config.words) throw new Error('Processor: the config has no word_tokenizer vocabulary');
    this.words = new WordTokenizer(config.words);
    this.actions = new ActionTokenizer(config.actionTokenizer);
  }

  /** Robot state mapped to [-1, 1] per dimension (the tokenizer clips what falls outside). */
  normalizeState(state: ArrayLike<number>): number[] {
    const r = this.config.stateRange;
    const n = this.config.prompt.stateDim;
    if (state.length < n) throw new Error(`Processor: state has ${state.length} values, the config expects ${n}`);
    return Array.from({ length: n }, (_, i) => {
      const v = state[i]!;
      if (!r) return v;
      const lo = r.min[i]!, hi = r.max[i]!;
      return hi > lo ? (2 * (v - lo)) / (hi - lo) - 1 : 0;
    });
  }

  /** Prompt ids of one sample: with actions a training row, without them a generation prompt. */
  promptIds(s: Omit<Sample, 'images'>): number[] {
    const p = this.config.prompt;
    const expected = p.actionChunk * p.actionDim;
    if (s.actions && s.actions.length !== expected) throw new Error(`Processor: ${s.actions.length} action values, the config expects ${expected}`);
    if (s.actions && p.groundingTokens > 0 && s.grounding === undefined) {
      throw new Error(`Processor: the config answers ${p.groundingTokens} grounding tokens before the actions (prompt.grounding_tokens); a training sample needs its grounding (null where the gaze box is out of view)`);
    }
    if (s.grounding && s.grounding.length !== p.groundingTokens) throw new Error(`Processor: ${s.grounding.length} grounding values, the config expects ${p.groundingTokens}`);
    return buildPromptIds({
      instruction: this.words.encode(s.instruction),
      state: p.stateEncoding === 'bins' ? this.actions.encode(this.normalizeState(s.state)) : [p.stateTokenIndex],
      ...(s.actions ? { actions: this.actions.encode(s.actions) } : {}),
      ...(s.actions && p.groundingTokens > 0 ? { grounding: this.actions.encode(Array.from({ length: p.groundingTokens }, (_, i) => groundingValue(s.grounding, i))) } : {}),
    }, p);
  }

  /**
   * Each sample's explicit-grounding values from the batch's gaze boxes: prompt.grounding_tokens
   * values, the box centre (x, y) of the first view, or of every view in order; NaN for a box out of
   * view. [] without grounding.
   */
  batchGrounding(batch: HostBatch): number[][] {
    const g = this.config.prompt.groundingTokens;
    if (g === 0) return [];
    const missing = 'explicit grounding (prompt.grounding_tokens) needs the batch\'s gaze boxes (HostBatch.gaze)';
    const perView = Array.from({ length: g / 2 }, (_, v) => this.gazeCentres(batch, missing, v));
    return batch.instructions.map((_, i) => perView.flatMap((c) => c[i] ?? [NaN, NaN]));
  }

  /** Each sample's gaze box centre in view number `view` (default the first), in [-1, 1] (groundingOf); null where the box is out of view. */
  private gazeCentres(batch: HostBatch, missing: string, view = 0): ([number, number] | null)[] {
    if (!batch.gaze) throw new Error(`Processor: ${missing}`);
    const views = this.config.views.length;
    if (batch.gaze.length !== batch.images.length) throw new Error(`Processor: ${batch.gaze.length} gaze boxes for ${batch.images.length} images (HostBatch.gaze holds one per image, B x ${views} view(s))`);
    return batch.instructions.map((_, i) => {
      const box = batch.gaze![i * views + view]!, img = batch.images[i * views + view]!;
      return box ? groundingOf(box, img.width, img.height) : null;
    });
  }

  /** [N, 3, S, S] normalised pixels (N = B x views for the model's input, sample-major). */
  pixels(images: readonly RgbImage[], backend: Backend): Tensor {
    const m = this.config.imageMean, s = this.config.imageStd;
    return preprocessImages(images, { size: this.config.vision.imageSize, mean: [m[0]!, m[1]!, m[2]!], std: [s[0]!, s[1]!, s[2]!], backend });
  }

  /** [views, 3, S, S]: one sample's views (checked against the config). */
  samplePixels(sample: Pick<Sample, 'images'>, backend: Backend): Tensor {
    const views = this.config.views;
    if (sample.images.length !== views.length) throw new Error(`Processor: ${sample.images.length} image(s) for the views ${views.join(', ')}`);
    return this.pixels(sample.images, backend);
  }

  /**
   * The state projection's input [B, F]: the normalised state ('linear'), plus sin and cos of it
   * at 2^k pi for k < bands ('fourier': sharp functions of the position, such as "stop 2 cm before
   * the handle", become easy for a small network to draw).
   */
  stateValues(states: readonly ArrayLike<number>[], backend: Backend): Tensor {
    const p = this.config.prompt;
    const width = stateFeatureWidth(p);
    const bands = p.stateEncoding === 'fourier' ? p.stateFourierBands : 0;
    const flat = new Float32Array(states.length * width);
    states.forEach((st, i) => {
      const v = this.normalizeState(st);
      let at = i * width;
      for (const x of v) flat[at++] = x;
      for (let k = 0; k < bands; k++) for (const x of v) { flat[at++] = Math.sin(2 ** k * Math.PI * x); flat[at++] = Math.cos(2 ** k * Math.PI * x); }
    });
    return tensor(flat, [states.length, width], { backend });
  }

  /** The model inputs of a training batch: pixels of every view, prompts with labels, targets, states. */
  batchInputs(batch: HostBatch, backend: Backend): Pick<ReconInputs, 'pixelValues' | 'prompts' | 'targetImages' | 'stateValues' | 'locatorTarget'> {
    const views = this.checkViews(batch);
    const grounding = this.batchGrounding(batch);
    const g = this.config.prompt.groundingTokens;
    const rows = batch.instructions.map((instruction, i) => this.promptIds({ instruction, state: batch.states[i]!, actions: batch.actions[i]!, ...(g > 0 ? { grounding: grounding[i]! } : {}) }));
    const prompts = collatePrompts(rows, this.config.prompt);
    // A view whose gaze box is out of view feeds placeholder grounding tokens: not supervised.
    grounding.forEach((v, r) => {
      if (!v.some(Number.isNaN)) return;
      const at = maskLabels(rows[r]!, this.config.prompt).findIndex((l) => l !== this.config.prompt.ignoreIndex);
      v.forEach((x, j) => { if (Number.isNaN(x)) prompts.labels[r * prompts.seqLen + at + j] = this.config.prompt.ignoreIndex; });
    });
    return {
      pixelValues: this.pixels(batch.images, backend), prompts,
      targetImages: this.pixels(batch.targets, backend), stateValues: this.stateValues(batch.states, backend),
      ...(this.config.locator ? { locatorTarget: this.locatorTarget(batch, backend) } : {}),
    };
  }

  /** The number of views, after checking the batch has that many images per sample. */
  private checkViews(batch: HostBatch): number {
    const views = this.config.views.length;
    if (batch.images.length !== batch.instructions.length * views) {
      throw new Error(`Processor: ${batch.images.length} images for ${batch.instructions.length} samples of ${views} view(s) (${this.config.views.join(', ')})`);
    }
    return views;
  }

  /**
   * What the locator stage reads, and no more: each sample's first view [B, 3, S, S], its
   * generation prompt (the locator reads the instruction before the image) and the target.
   */
  locatorInputs(batch: HostBatch, backend: Backend): Pick<ReconInputs, 'pixelValues' | 'prompts' | 'locatorTarget'> {
    const views = this.checkViews(batch);
    const first = batch.instructions.map((_, i) => batch.images[i * views]!);
    const prompts = collatePrompts(batch.instructions.map((instruction, i) => this.promptIds({ instruction, state: batch.states[i]! })), this.config.prompt, false);
    return { pixelValues: this.pixels(first, backend), prompts, locatorTarget: this.locatorTarget(batch, backend) };
  }

  /** The locator's supervision: each sample's gaze box centre in the first view (zeros and not in view where the box is out of it). */
  locatorTarget(batch: HostBatch, backend: Backend): NonNullable<ReconInputs['locatorTarget']> {
    const centres = this.gazeCentres(batch, 'the locator (config "locator") is supervised with the batch\'s gaze boxes (HostBatch.gaze), and this batch has none');
    const centre = new Float32Array(centres.length * 2), inView = new Float32Array(centres.length);
    centres.forEach((c, i) => {
      if (!c) return;
      centre.set(c, 2 * i);
      inView[i] = 1;
    });
    return { centre: tensor(centre, [centres.length, 2], { backend }), inView };
  }
}
