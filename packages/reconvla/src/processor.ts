// The processor: what turns a robot's raw inputs into model inputs, shared by training and the
// policy so both see exactly the same encoding. Images go through SigLIP's preprocessing, the
// instruction through the word tokenizer, the state through the action tokenizer after mapping
// each dimension's range to [-1, 1], and actions (training only) through the action tokenizer.
import { tensor, type Backend, type Tensor } from '@reconvla/core';
import { preprocessImages, type RgbImage } from '@reconvla/siglip';
import { ActionTokenizer } from './action_tokenizer.ts';
import { stateFeatureWidth, type ReconVLAConfig } from './config.ts';
import type { ReconInputs } from './model.ts';
import { buildPromptIds, collatePrompts } from './prompt.ts';
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
    const expected = this.config.prompt.actionChunk * this.config.prompt.actionDim;
    if (s.actions && s.actions.length !== expected) throw new Error(`Processor: ${s.actions.length} action values, the config expects ${expected}`);
    return buildPromptIds({
      instruction: this.words.encode(s.instruction),
      state: this.config.prompt.stateEncoding === 'bins' ? this.actions.encode(this.normalizeState(s.state)) : [this.config.prompt.stateTokenIndex],
      ...(s.actions ? { actions: this.actions.encode(s.actions) } : {}),
    }, this.config.prompt);
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
  batchInputs(batch: HostBatch, backend: Backend): Pick<ReconInputs, 'pixelValues' | 'prompts' | 'targetImages' | 'stateValues'> {
    const views = this.config.views.length;
    if (batch.images.length !== batch.instructions.length * views) {
      throw new Error(`Processor: ${batch.images.length} images for ${batch.instructions.length} samples of ${views} view(s) (${this.config.views.join(', ')})`);
    }
    const rows = batch.instructions.map((instruction, i) => this.promptIds({ instruction, state: batch.states[i]!, actions: batch.actions[i]! }));
    return {
      pixelValues: this.pixels(batch.images, backend), prompts: collatePrompts(rows, this.config.prompt),
      targetImages: this.pixels(batch.targets, backend), stateValues: this.stateValues(batch.states, backend),
    };
  }
}
