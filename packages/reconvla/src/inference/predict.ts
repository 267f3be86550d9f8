// Action prediction: the generation prompt (everything up to "ASSISTANT:") with the image
// spliced in, one prefill pass into a KV cache, then greedy decoding of action_chunk x
// action_dim tokens, detokenized to bin centres. Upstream takes the argmax over the whole
// vocabulary; we take it over the action ids only, so every step yields a valid action even
// from an undertrained model (any id would decode, clipped, but to a meaningless value).
import { F, noGrad, tidy, type Tensor } from '@reconvla/core';
import { KVCache } from '@reconvla/qwen2';
import type { ReconVLA } from '../model.ts';
import { collatePrompts } from '../prompt.ts';
import type { Processor, Sample } from '../processor.ts';

export interface Prediction {
  /** action_chunk x action_dim values, step-major. */
  actions: Float32Array;
  ids: number[];
}

function argmaxIn(row: Float32Array, lo: number, hi: number): number {
  let best = lo;
  for (let i = lo + 1; i <= hi; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

export async function predictActions(model: ReconVLA, processor: Processor, sample: Omit<Sample, 'actions'>): Promise<Prediction> {
  const cfg = model.config;
  const n = cfg.prompt.actionChunk * cfg.prompt.actionDim;
  const [lo, hi] = model.actionTokenizer.tokenRange;
  const backend = model.backend;
  const cache = new KVCache(cfg.llm.numHiddenLayers);
  const ids: number[] = [];
  try {
    const lastLogits = (embeds: () => Tensor): Tensor => tidy(() => noGrad(() => {
      const h = model.lm.model.forward({ inputsEmbeds: embeds(), cache });
      const t = h.shape[1]!;
      return F.reshape(F.linear(F.slice(h, 1, t - 1), model.lm.lmHeadWeight), [cfg.llm.vocabSize]);
    }));
    let logits = lastLogits(() => {
      const prompts = collatePrompts([processor.promptIds(sample)], cfg.prompt, false);
      const { imageFeatures } = model.encodeImages(processor.samplePixels(sample, backend));
      return model.embedPrompts(prompts, imageFeatures, processor.stateValues([sample.state], backend)).inputsEmbeds;
    });
    for (let k = 0; k < n; k++) {
      const row = (await logits.data()) as Float32Array;
      logits.dispose();
      const id = argmaxIn(row, lo, hi);
      ids.push(id);
      if (k + 1 === n) break;
      logits = lastLogits(() => F.embedding(F.tensor([id], [1, 1], { backend, dtype: 'int32' }), model.lm.model.embed_tokens.weight));
    }
  } finally {
    cache.dispose();
  }
  return { actions: model.actionTokenizer.decode(ids), ids };
}
