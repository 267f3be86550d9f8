// The vision stage: SigLIP's own objective (Zhai et al. 2023, "Sigmoid Loss for Language Image
// Pre-Training") on simulator frames and the captions the simulator writes. Upstream ReconVLA
// starts from a pretrained SigLIP tower and freezes it; ours is tiny and random, so it first
// learns to see here. What this stage adds to the model lives outside ReconVLA's state dict:
//   text_model.*     a tiny SiglipTextModel over a word vocabulary (pad 0, unk 1, then words)
//   image_head.*     Linear from the tower's width to the shared embedding width
//   logit_scale      t', the log temperature (init log 10)
//   logit_bias       b (init -10, the paper's: about the log prior of a positive pair, -ln B, at
//                    its batch of 32k; see logitBias below for small batches)
// The image embedding is the tower's post_layernorm output mean-pooled over patches and views
// (the tiny config has no attention-pooling head; with one, its pooled output, averaged over
// views); both embeddings are L2-normalised; logits = exp(t') img @ txt^T + b; the loss is
// -mean over all B^2 pairs of log sigmoid(z_ij logits_ij), z = +1 on the diagonal, -1 elsewhere.
// (The paper and transformers divide the sum by B, not B^2: the same gradient direction times
// B, which AdamW's normalisation undoes; the mean keeps the number comparable across batch sizes.)
import { F, Module, nn, noGrad, type Backend, type Generator, type Tensor } from '@reconvla/core';
import { initSiglipWeights, parseSiglipTextConfig, SiglipTextModel, type SiglipTextConfig } from '@reconvla/siglip';
import type { Json } from '../config.ts';
import type { ReconVLA } from '../model.ts';
import { splitWords } from '../word_tokenizer.ts';

export const CAPTION_SPECIALS = { pad: 0, unk: 1 } as const;
const FIRST_CAPTION_WORD = 2;

/** Word-level ids padded with pad (or cut) to a fixed length, as SigLIP's tokenizer pads to max_length. */
export class CaptionTokenizer {
  private readonly ids = new Map<string, number>();

  constructor(readonly words: readonly string[], readonly length: number) {
    words.forEach((w, i) => {
      if (this.ids.has(w)) throw new Error(`CaptionTokenizer: "${w}" appears twice in the vocabulary`);
      this.ids.set(w, FIRST_CAPTION_WORD + i);
    });
  }

  get vocabSize(): number { return FIRST_CAPTION_WORD + this.words.length; }

  encode(text: string): number[] {
    const ids = splitWords(text).slice(0, this.length).map((w) => this.ids.get(w) ?? CAPTION_SPECIALS.unk);
    while (ids.length < this.length) ids.push(CAPTION_SPECIALS.pad);
    return ids;
  }

  /** [B, length] int32 ids. */
  batch(texts: readonly string[], backend: Backend): Tensor {
    return F.tensor(Int32Array.from(texts.flatMap((t) => this.encode(t))), [texts.length, this.length], { backend, dtype: 'int32' });
  }
}

/**
 * The tiny text tower's config.json (HF text_config keys) for a vocabulary of `words` words:
 * the vision tower's width, one layer, 64 positions (HF SigLIP's max length; the tabletop's
 * captions have 45-75 words, the longest lose their last clauses), projection = the shared width.
 */
export function tinyTextConfigJson(words: number, shared: number, overrides: Json = {}): Json {
  return {
    model_type: 'siglip_text_model', vocab_size: FIRST_CAPTION_WORD + words, hidden_size: 48, intermediate_size: 96,
    num_hidden_layers: 1, num_attention_heads: 4, max_position_embeddings: 64, projection_size: shared, layer_norm_eps: 1e-6,
    hidden_act: 'gelu_pytorch_tanh', pad_token_id: CAPTION_SPECIALS.pad, ...overrides,
  };
}

/** The parts of SigLIP's image-text objective that are not ReconVLA's (HF SiglipModel's names where it has them). */
export interface ObjectiveInit {
  backend: Backend;
  generator?: Generator;
  /**
   * b at init (default -10, the paper's). At a batch of 32 the prior is -ln 31 = -3.4; from -10
   * AdamW moves b ~lr per step, so in a few hundred steps the loss is lowered instead by pulling
   * all embeddings together (measured: image-image cosine median 0.80 -> 0.98 in 300 steps; with
   * -3.4 it stays at 0.86). Retrieval after 300 steps was the same either way (6-7%).
   */
  logitBias?: number;
}

export class SiglipObjective extends Module {
  readonly text: SiglipTextModel;
  readonly image_head: nn.Linear;
  readonly logit_scale: Tensor;
  readonly logit_bias: Tensor;
  readonly tokenizer: CaptionTokenizer;
  readonly textConfig: SiglipTextConfig;

  /** textJson: the text tower's config.json (HF text_config keys); imageWidth: the vision tower's. */
  constructor(readonly textJson: Json, words: readonly string[], imageWidth: number, init: ObjectiveInit) {
    super();
    const textConfig = this.textConfig = parseSiglipTextConfig(textJson);
    this.tokenizer = new CaptionTokenizer(words, textConfig.maxPositionEmbeddings);
    if (this.tokenizer.vocabSize > textConfig.vocabSize) throw new Error(`SiglipObjective: ${words.length} caption words need ${this.tokenizer.vocabSize} ids, the text config has vocab_size ${textConfig.vocabSize}`);
    this.text = new SiglipTextModel(textConfig, init);
    this.registerModule('text_model', this.text.text_model);
    this.image_head = this.registerModule('image_head', new nn.Linear(imageWidth, textConfig.projectionSize, init));
    this.logit_scale = this.registerParameter('logit_scale', F.full([1], Math.log(10), { backend: init.backend }));
    this.logit_bias = this.registerParameter('logit_bias', F.full([1], init.logitBias ?? -10, { backend: init.backend }));
    // transformers' _init_weights by name (text tower and image head; t' and b keep the paper's values).
    initSiglipWeights(this, init.generator);
  }

  /** From the stage's caption words and (optional) text config overrides. */
  static create(model: ReconVLA, words: readonly string[], textOverrides: Json, init: ObjectiveInit): SiglipObjective {
    const width = model.config.vision.hiddenSize;
    return new SiglipObjective(tinyTextConfigJson(words.length, width, textOverrides), words, width, init);
  }
}

/** x / ||x|| over the last dim (the epsilon only guards an all-zero row). */
function l2Normalize(x: Tensor): Tensor {
  return F.mul(x, F.rsqrt(F.add(F.sum(F.square(x), -1, true), 1e-12)));
}

/** log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), stable for large |x| of either sign. */
function logSigmoid(x: Tensor): Tensor {
  return F.sub(F.minimum(x, 0), F.log(F.add(F.exp(F.neg(F.abs(x))), 1)));
}

/** z: +1 on the diagonal (matching image and caption), -1 elsewhere, [B, B]. */
function pairLabels(b: number, backend: Backend): Tensor {
  const z = new Float32Array(b * b).fill(-1);
  for (let i = 0; i < b; i++) z[i * b + i] = 1;
  return F.tensor(z, [b, b], { backend });
}

/** The sigmoid loss of image and text embeddings [B, D] (normalised here) and the logits [B_img, B_txt]. */
export function sigmoidLoss(imageEmbeds: Tensor, textEmbeds: Tensor, logitScale: Tensor, logitBias: Tensor): { loss: Tensor; logits: Tensor } {
  const b = imageEmbeds.shape[0]!;
  if (textEmbeds.shape[0] !== b) throw new Error(`sigmoidLoss: ${b} images but ${textEmbeds.shape[0]} texts`);
  const img = l2Normalize(imageEmbeds), txt = l2Normalize(textEmbeds);
  const logits = F.add(F.mul(F.matmul(img, F.transpose(txt, 0, 1)), F.exp(logitScale)), logitBias);
  const loss = F.neg(F.mean(logSigmoid(F.mul(pairLabels(b, imageEmbeds.backend), logits))));
  return { loss, logits };
}

/** Image -> text top-1 accuracy within the batch: how often an image's best caption is its own. */
export function retrievalAccuracy(logits: Tensor): Tensor {
  return noGrad(() => {
    const b = logits.shape[0]!;
    const own = F.arange(0, b, 1, { backend: logits.backend, dtype: 'int32' });
    return F.mean(F.astype(F.eq(F.argmax(logits, 1), own), 'float32'));
  });
}

/** The image embeddings [B, D_shared] of pixels [B x views, 3, S, S] (each sample's views in order). */
export function imageEmbeddings(model: ReconVLA, objective: SiglipObjective, pixels: Tensor): Tensor {
  const views = model.config.views.length;
  const n = pixels.shape[0]!;
  if (n % views !== 0) throw new Error(`vision stage: ${n} images do not split into samples of ${views} views (${model.config.views.join(', ')})`);
  const out = model.visionTower.forward(pixels);
  const pooled = out.poolerOutput ?? F.mean(out.lastHiddenState, 1); // [B x views, D]
  const d = pooled.shape[1]!;
  return objective.image_head.forward(F.mean(F.reshape(pooled, [n / views, views, d]), 1));
}

export interface VisionStageResult { loss: Tensor; logits: Tensor; retrieval: Tensor }

/** One step's loss: pixels [B x views, 3, S, S] against caption ids [B, L]. */
export function visionStageLoss(model: ReconVLA, objective: SiglipObjective, pixels: Tensor, captionIds: Tensor): VisionStageResult {
  const img = imageEmbeddings(model, objective, pixels);
  const txt = objective.text.forward(captionIds).poolerOutput;
  const { loss, logits } = sigmoidLoss(img, txt, objective.logit_scale, objective.logit_bias);
  return { loss, logits, retrieval: retrievalAccuracy(logits) };
}
