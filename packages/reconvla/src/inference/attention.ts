// Attention maps: how much the text and action tokens after the image look at each image
// patch. The prompt plus the model's own greedy answer tokens (teacher-forced) is run layer by
// layer; in each layer the attention probabilities softmax(q k^T / sqrt(d) + causal) are
// recomputed from the layer's own projections (SDPA does not return them), the rows of the
// positions after the image are kept, and their columns at the image positions are averaged over
// heads, rows and layers: one weight per patch, drawn over the image as a heat map.
import { F, noGrad, tidy, type Tensor } from '@reconvla/core';
import type { ReconVLA } from '../model.ts';
import { collatePrompts } from '../prompt.ts';
import type { Processor, Sample } from '../processor.ts';
import { predictActions } from './predict.ts';
import type { RgbBytes } from './image_io.ts';

export interface AttentionMap {
  /** Mean attention per image patch of the first view, row-major over the patch grid. */
  weights: Float32Array;
  grid: number;
  /** The share of the attention of those rows that goes to the image at all (every view). */
  imageShare: number;
  /** The share that goes to the first view (the one drawn). */
  firstViewShare: number;
}

export async function attentionMap(model: ReconVLA, processor: Processor, sample: Omit<Sample, 'actions'>): Promise<AttentionMap> {
  const cfg = model.config;
  const { actions, grounding } = await predictActions(model, processor, sample);
  const perLayer = tidy(() => noGrad(() => {
    // The model's whole greedy answer: its explicit grounding (if any), then its actions.
    const prompts = collatePrompts([processor.promptIds({ ...sample, actions, ...(cfg.prompt.groundingTokens > 0 ? { grounding } : {}) })], cfg.prompt, false);
    const embedded = model.embedInputs(processor.samplePixels(sample, model.backend), prompts, processor.stateValues([sample.state], model.backend));
    const plan = embedded.plan;
    let h = embedded.inputsEmbeds;
    // The map is over the first view (the static camera, where the gaze box is); every view's
    // tokens count as image when picking the rows after the image.
    const t = plan.length, boi = plan.boi[0]!, p = cfg.imageEmbedLen, imageLen = plan.imageLen;
    const { numAttentionHeads: nh, numKeyValueHeads: kvh, headDim: hd, ropeTheta } = cfg.llm;
    const positions = F.reshape(F.arange(0, t, 1, { backend: model.backend, dtype: 'int32' }), [1, t]);
    const { cos, sin } = F.rotaryCosSin(positions, hd, ropeTheta);
    const causal = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) causal[i * t + j] = -1e30;
    const mask = F.tensor(causal, [1, 1, t, t], { backend: model.backend });
    const maps: Tensor[] = [];
    for (const layer of model.lm.model.layers.items) {
      const x = layer.input_layernorm.forward(h);
      const heads = (y: Tensor, n: number): Tensor => F.transpose(F.reshape(y, [1, t, n, hd]), 1, 2);
      const q = F.applyRotary(heads(layer.self_attn.q_proj.forward(x), nh), cos, sin);
      let k = F.applyRotary(heads(layer.self_attn.k_proj.forward(x), kvh), cos, sin);
      // GQA: query head i reads key head floor(i / (nh / kvh)).
      k = F.reshape(F.expand(F.reshape(k, [1, kvh, 1, t, hd]), [1, kvh, nh / kvh, t, hd]), [1, nh, t, hd]);
      const probs = F.softmax(F.add(F.mul(F.matmul(q, F.transpose(k, 2, 3)), 1 / Math.sqrt(hd)), mask), -1); // [1, nh, t, t]
      const rows = F.slice(probs, 2, boi + imageLen, plan.rowLength[0]!); // queries after the image
      maps.push(F.mean(rows, [0, 1, 2])); // [t]: mean over heads and rows
      h = layer.forward(h, cos, sin, null);
    }
    return { mean: F.mean(F.stack(maps, 0), 0), boi, p, imageLen };
  }));
  const all = (await perLayer.mean.data()) as Float32Array;
  perLayer.mean.dispose();
  const weights = all.slice(perLayer.boi, perLayer.boi + perLayer.p);
  const grid = Math.round(Math.sqrt(perLayer.p));
  const sum = (a: Float32Array): number => a.reduce((s, v) => s + v, 0);
  return { weights, grid, imageShare: sum(all.slice(perLayer.boi, perLayer.boi + perLayer.imageLen)), firstViewShare: sum(weights) };
}

/**
 * The share of the map's attention (over the first view's patches) that falls inside a gaze box
 * given in pixels [x0, y0, x1, y1) of a width x height frame: each patch counts with the fraction
 * of its area inside the box. The paper's Fig. 4 as a number: high when the action tokens look at
 * the object to act on.
 */
export function gazeShare(map: AttentionMap, box: readonly [number, number, number, number], width: number, height: number): number {
  const { weights, grid } = map;
  const overlap = (a0: number, a1: number, b0: number, b1: number): number => Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
  let inside = 0, total = 0;
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      const w = weights[gy * grid + gx]!;
      const px0 = (gx * width) / grid, px1 = ((gx + 1) * width) / grid, py0 = (gy * height) / grid, py1 = ((gy + 1) * height) / grid;
      const frac = (overlap(px0, px1, box[0], box[2]) * overlap(py0, py1, box[1], box[3])) / ((px1 - px0) * (py1 - py0));
      inside += w * frac;
      total += w;
    }
  }
  return total > 0 ? inside / total : 0;
}

/** The map over the image: weights normalised to [0, 1], bilinearly upsampled, blended in red. */
export function overlayAttention(image: RgbBytes, map: AttentionMap, alpha = 0.6): RgbBytes {
  const { weights, grid } = map;
  const max = Math.max(...weights), min = Math.min(...weights);
  const norm = Array.from(weights, (v) => (max > min ? (v - min) / (max - min) : 0));
  const at = (gy: number, gx: number): number => norm[Math.min(grid - 1, Math.max(0, gy)) * grid + Math.min(grid - 1, Math.max(0, gx))]!;
  const data = new Uint8Array(image.data.length);
  for (let y = 0; y < image.height; y++) {
    const fy = ((y + 0.5) * grid) / image.height - 0.5, y0 = Math.floor(fy), ty = fy - y0;
    for (let x = 0; x < image.width; x++) {
      const fx = ((x + 0.5) * grid) / image.width - 0.5, x0 = Math.floor(fx), tx = fx - x0;
      const w = (at(y0, x0) * (1 - tx) + at(y0, x0 + 1) * tx) * (1 - ty) + (at(y0 + 1, x0) * (1 - tx) + at(y0 + 1, x0 + 1) * tx) * ty;
      const o = (y * image.width + x) * 3;
      const a = alpha * w;
      const grey = (image.data[o]! + image.data[o + 1]! + image.data[o + 2]!) / 3;
      data[o] = Math.round((1 - a) * grey + a * 255);
      data[o + 1] = Math.round((1 - a) * grey + a * 40);
      data[o + 2] = Math.round((1 - a) * grey + a * 40);
    }
  }
  return { width: image.width, height: image.height, data };
}
