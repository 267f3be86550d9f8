// Action prediction: the generation prompt (everything up to "ASSISTANT:") with the image
// spliced in, one prefill pass into a KV cache, then greedy decoding of action_chunk x
// action_dim tokens, detokenized to bin centres. Upstream takes the argmax over the whole
// vocabulary; we take it over the action ids only, so every step yields a valid action even
// from an undertrained model (any id would decode, clipped, but to a meaningless value).
//
// How a distribution over the bins becomes one action value (`decoding`):
// - 'argmax' (upstream): the most likely bin. With a bang-bang expert most of the mass of the
//   training data sits in the +-1 and 0 bins, while the proportional moves near a target spread
//   over many neighbouring bins, so the argmax snaps to a saturated bin and the policy oscillates
//   around targets it should settle on;
// - 'median': the bin where the cumulative probability (in value order) passes 1/2, robust to
//   that spread; 'mean': the expected value, fed back as its nearest bin.
// The token fed back for the next dimension is the decoded value's bin. With explicit grounding
// (prompt.grounding_tokens) the answer first names where the target is (the gaze box centre,
// argmax bins), then the actions follow, conditioned on it. `grounding` can replace the model's
// own answer: with given values (null: the model answers that one; NaN: out of view, fed 0 as in
// training), e.g. the true box centres, an oracle that tells a localisation failure from an acting
// one; or with 'locator': the static view's centre is the locator's keypoint 0 (the point it is
// trained to put there), the other views' the model's own.
import { F, keep, noGrad, tidy, type Tensor } from '@reconvla/core';
import { KVCache } from '@reconvla/qwen2';
import type { ActionTokenizer } from '../action_tokenizer.ts';
import type { ReconVLA } from '../model.ts';
import { collatePrompts } from '../prompt.ts';
import type { Processor, Sample } from '../processor.ts';

export interface Prediction {
  /** action_chunk x action_dim values, step-major. */
  actions: Float32Array;
  /** Every generated id: the grounding ids (if any), then the action ids. */
  ids: number[];
  /** Explicit grounding: the predicted gaze box centre x, y in [-1, 1]; empty without. */
  grounding: Float32Array;
}

export type ActionDecoding = 'argmax' | 'median' | 'mean';

function argmaxIn(row: Float32Array, lo: number, hi: number): number {
  let best = lo;
  for (let i = lo + 1; i <= hi; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** The action id chosen from one row of logits (ids lo..hi are the bins; a higher id is a lower value). */
export function chooseActionId(row: Float32Array, lo: number, hi: number, decoding: ActionDecoding, tokenizer: ActionTokenizer): number {
  const best = argmaxIn(row, lo, hi);
  if (decoding === 'argmax') return best;
  let z = 0;
  const p = new Float64Array(hi - lo + 1);
  for (let i = lo; i <= hi; i++) z += (p[i - lo] = Math.exp(row[i]! - row[best]!));
  if (decoding === 'median') {
    let acc = 0;
    for (let i = hi; i >= lo; i--) { acc += p[i - lo]! / z; if (acc >= 0.5) return i; } // ascending values
    return lo;
  }
  let mean = 0;
  for (let i = lo; i <= hi; i++) mean += (p[i - lo]! / z) * tokenizer.decodeId(i);
  return tokenizer.encodeValue(mean);
}

/** Grounding values to feed instead of the model's answer (null: the model answers), or 'locator'. */
export type GivenGrounding = ArrayLike<number | null> | 'locator';

export async function predictActions(model: ReconVLA, processor: Processor, sample: Omit<Sample, 'actions'>, decoding: ActionDecoding = 'argmax', grounding?: GivenGrounding): Promise<Prediction> {
  const cfg = model.config;
  const g = cfg.prompt.groundingTokens;
  if (grounding !== undefined && g === 0) throw new Error('predictActions: grounding given, but the config answers no grounding tokens (prompt.grounding_tokens 0)');
  if (grounding === 'locator' && !model.locator) throw new Error('predictActions: grounding from the locator, but the model has none (config "locator")');
  if (grounding !== undefined && grounding !== 'locator' && grounding.length !== g) throw new Error(`predictActions: ${grounding.length} given grounding values, the config answers ${g} (prompt.grounding_tokens)`);
  // Each grounding token's id to feed, or null where the model answers; out of view (NaN) is fed as 0, as in training.
  let given: (number | null)[] | null = grounding === undefined || grounding === 'locator' ? null
    : Array.from(grounding, (v) => (v === null ? null : model.actionTokenizer.encodeValue(Number.isNaN(v) ? 0 : v)));
  // The locator's keypoints from the prefill (kept past its scope), for grounding: 'locator'.
  const located: { points: Tensor | null } = { points: null };
  const n = g + cfg.prompt.actionChunk * cfg.prompt.actionDim;
  const [lo, hi] = model.actionTokenizer.tokenRange;
  const backend = model.backend;
  const cache = new KVCache(cfg.llm.numHiddenLayers);
  const ids: number[] = [];
  // The fed-back ids are embedded as the prompt's were (with the ordered bin features, if any).
  const table = model.binFeatures ? keep(noGrad(() => model.inputEmbeddingTable())) : model.lm.model.embed_tokens.weight;
  try {
    const lastLogits = (embeds: () => Tensor): Tensor => tidy(() => noGrad(() => {
      const h = model.lm.model.forward({ inputsEmbeds: embeds(), cache });
      const t = h.shape[1]!;
      return F.reshape(F.linear(F.slice(h, 1, t - 1), model.lm.lmHeadWeight), [cfg.llm.vocabSize]);
    }));
    let logits = lastLogits(() => {
      const prompts = collatePrompts([processor.promptIds(sample)], cfg.prompt, false);
      const e = model.embedInputs(processor.samplePixels(sample, backend), prompts, processor.stateValues([sample.state], backend));
      if (grounding === 'locator') located.points = keep(e.locatorPoints!);
      return e.inputsEmbeds;
    });
    if (located.points) {
      // [1, views x keypoints x 2]: keypoint 0 of the first view leads.
      const p = (await located.points.data()) as Float32Array;
      given = Array.from({ length: g }, (_, i) => (i < 2 ? model.actionTokenizer.encodeValue(p[i]!) : null));
    }
    for (let k = 0; k < n; k++) {
      // A given grounding id needs no logits read back; the model still runs on it for the next token.
      const fed = k < g ? given?.[k] ?? null : null;
      const id = fed ?? chooseActionId((await logits.data()) as Float32Array, lo, hi, k < g ? 'argmax' : decoding, model.actionTokenizer);
      logits.dispose();
      ids.push(id);
      if (k + 1 === n) break;
      logits = lastLogits(() => F.embedding(F.tensor([id], [1, 1], { backend, dtype: 'int32' }), table));
    }
  } finally {
    cache.dispose();
    if (model.binFeatures) table.dispose();
    located.points?.dispose();
  }
  return { actions: model.actionTokenizer.decode(ids.slice(g)), ids, grounding: model.actionTokenizer.decode(ids.slice(0, g)) };
}
