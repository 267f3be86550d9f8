// Teacher-forced action accuracy: on a batch of demonstrations, the share of action tokens whose
// argmax over the action ids (the policy's greedy choice given the true previous tokens) is the
// demonstrated bin, and the mean absolute error of the decoded values. With `image: 'black'` the
// cameras are replaced by black frames: a model that reads the image loses accuracy, a blind one
// does not (the check that found the frozen random tower blind).
import { F, noGrad, tidy } from '@reconvla/core';
import type { ReconVLA } from '../model.ts';
import type { Processor } from '../processor.ts';
import type { HostBatch } from '../train/batch.ts';

export interface ActionAccuracy {
  /** Share of action tokens predicted exactly. */
  exact: number;
  /** Share of decoded action values within `tolerance` of the demonstrated value. */
  withinTolerance: number;
  tolerance: number;
  /** Mean |decoded - demonstrated| over the action values. */
  meanAbsError: number;
  /** withinTolerance of each action dimension (dx, dy, dz, droll, dpitch, dyaw, gripper). */
  withinToleranceByDim: number[];
  /** exact of each action dimension. */
  exactByDim: number[];
  tokens: number;
  /**
   * Explicit grounding: mean |predicted - true| of each grounding token (the box centre's x and y,
   * of the first view or of every view in order; [-1, 1] units) over its supervised tokens; null without.
   */
  groundingMeanAbsError: number[] | null;
  /** The locator: mean |keypoint 0 of the first view - gaze box centre| in x and y over the frames whose box is in view, and their count; null without a locator. */
  locatorMeanAbsError: [number, number] | null;
  locatorFrames: number;
}

export async function teacherForcedAccuracy(model: ReconVLA, processor: Processor, batch: HostBatch,
  opts: { image?: 'normal' | 'black'; tolerance?: number } = {}): Promise<ActionAccuracy> {
  const tolerance = opts.tolerance ?? 0.25;
  const images = opts.image === 'black' ? batch.images.map((im) => ({ ...im, data: new Uint8Array(im.data.length) })) : batch.images;
  const [lo, hi] = model.actionTokenizer.tokenRange;
  const { logits, plan, points, target } = tidy(() => noGrad(() => {
    const inputs = processor.batchInputs({ ...batch, images }, model.backend);
    const { plan, inputsEmbeds, locatorPoints } = model.embedInputs(inputs.pixelValues, inputs.prompts, inputs.stateValues);
    // Only the action-id columns: the greedy choice is made among them.
    return { logits: F.slice(model.runLanguageModel(plan, inputsEmbeds).logits, 2, lo, hi + 1), plan, points: locatorPoints, target: inputs.locatorTarget ?? null };
  }));
  const values = (await logits.data()) as Float32Array;
  logits.dispose();
  const lErr = [0, 0];
  let locatorFrames = 0;
  if (points && target) {
    const p = (await points.data()) as Float32Array, c = (await target.centre.data()) as Float32Array;
    const per = p.length / target.inView.length; // views x keypoints x 2 per sample: keypoint 0 of view 0 first
    target.inView.forEach((seen, s) => {
      if (!seen) return;
      lErr[0]! += Math.abs(p[s * per]! - c[2 * s]!); lErr[1]! += Math.abs(p[s * per + 1]! - c[2 * s + 1]!);
      locatorFrames++;
    });
    points.dispose(); target.centre.dispose();
  }
  const n = hi - lo + 1, L = plan.length;
  let exact = 0, within = 0, absErr = 0, tokens = 0;
  const dims = model.config.prompt.actionDim;
  const dimWithin = new Array<number>(dims).fill(0), dimExact = new Array<number>(dims).fill(0), dimCount = new Array<number>(dims).fill(0);
  const g = model.config.prompt.groundingTokens;
  const gErr = new Array<number>(g).fill(0), gCount = new Array<number>(g).fill(0);
  const perRow = model.config.prompt.actionChunk * dims;
  for (let r = 0; r < plan.batchSize; r++) {
    // The supervised ids in the action range: the grounding tokens (when supervised), then the actions.
    const at: number[] = [];
    for (let i = 0; i + 1 < L; i++) {
      const label = plan.labels[r * L + i + 1]!; // position i predicts token i + 1
      if (label >= lo && label <= hi) at.push(i); // not the end token, not padding
    }
    const firstAction = at.length - perRow;
    // The grounding tokens sit right before the first action; some may be unsupervised (out of view).
    const groundingStart = at[firstAction]! - g;
    at.forEach((i, idx) => {
      const label = plan.labels[r * L + i + 1]!;
      const row = values.subarray((r * L + i) * n, (r * L + i + 1) * n);
      let best = 0;
      for (let k = 1; k < n; k++) if (row[k]! > row[best]!) best = k;
      const err = Math.abs(model.actionTokenizer.decodeId(lo + best) - model.actionTokenizer.decodeId(label));
      if (idx < firstAction) { gErr[i - groundingStart]! += err; gCount[i - groundingStart]!++; return; }
      const k = idx - firstAction; // step-major: dim = k mod action_dim
      tokens++;
      if (lo + best === label) { exact++; dimExact[k % dims]!++; }
      if (err <= tolerance) { within++; dimWithin[k % dims]!++; }
      dimCount[k % dims]!++;
      absErr += err;
    });
  }
  if (tokens === 0) throw new Error('teacherForcedAccuracy: the batch holds no action tokens');
  return {
    exact: exact / tokens, withinTolerance: within / tokens, tolerance, meanAbsError: absErr / tokens,
    withinToleranceByDim: dimWithin.map((w, d) => w / Math.max(1, dimCount[d]!)), exactByDim: dimExact.map((w, d) => w / Math.max(1, dimCount[d]!)), tokens,
    groundingMeanAbsError: g > 0 ? gErr.map((e, j) => e / Math.max(1, gCount[j]!)) : null,
    locatorMeanAbsError: points ? [lErr[0]! / Math.max(1, locatorFrames), lErr[1]! / Math.max(1, locatorFrames)] : null, locatorFrames,
  };
}
