// prepare_inputs_labels_for_multimodal (flat merge): per row, drop the padding, embed the text
// on either side of the image placeholder, put the image features in its place (label
// ignore_index), then right-pad every row with ZERO vectors (not the pad token's embedding),
// label ignore_index and mask 0. The plan is computed on the host from the ids; the tensors are
// assembled with one gather from [text embeddings; image features; state features; a zero row],
// so gradients reach the embedding table, the projector and the state projection.
// The state placeholder (prompt.state_token_index) is ours: with the 'linear' state encoding a
// row holds one, replaced by a learned projection of the robot state (upstream: bin tokens).
import { F, type Tensor } from '@reconvla/core';
import type { PromptConfig } from './config.ts';
import type { PromptBatch } from './prompt.ts';

export interface SplicePlan {
  batchSize: number;
  /** Spliced length L (the longest row). */
  length: number;
  imageLen: number;
  /** Every text id of the batch, row by row, in order. */
  textIds: Int32Array;
  /** [B * L] row of [text (textIds.length); image (B * imageLen); state (B, or 0); zero (1)] for each position. */
  gather: Int32Array;
  /** Whether the rows hold a state placeholder (then spliceEmbeddings needs state features). */
  hasState: boolean;
  /** [B, L] */
  labels: Int32Array;
  /** [B, L] */
  attentionMask: Int32Array;
  /** Index of the first image token in each row (the placeholder's position). */
  boi: number[];
  /** Unpadded spliced length of each row. */
  rowLength: number[];
}

export function planSplice(batch: PromptBatch, imageLen: number, cfg: PromptConfig): SplicePlan {
  const { batchSize: b, seqLen: t } = batch;
  const rows: { ids: number[]; labels: number[] }[] = [];
  for (let r = 0; r < b; r++) {
    const ids: number[] = [], labels: number[] = [];
    for (let i = 0; i < t; i++) {
      if (!batch.attentionMask[r * t + i]) continue;
      ids.push(batch.inputIds[r * t + i]!);
      labels.push(batch.labels[r * t + i]!);
    }
    rows.push({ ids, labels });
  }
  const stateCounts = rows.map(({ ids }) => ids.filter((id) => id === cfg.stateTokenIndex).length);
  const hasState = stateCounts.some((n) => n > 0);
  if (hasState && stateCounts.some((n) => n !== 1)) throw new Error(`splice: every row must hold one state placeholder (${cfg.stateTokenIndex}) or none, found ${stateCounts.join(', ')}`);
  const rowLength = rows.map(({ ids }) => {
    const n = ids.filter((id) => id === cfg.imageTokenIndex).length;
    if (n !== 1) throw new Error(`splice: a row must hold exactly one image placeholder (${cfg.imageTokenIndex}), found ${n}`);
    return ids.length - 1 + imageLen;
  });
  const length = Math.max(...rowLength);
  const placeholders = 1 + (hasState ? 1 : 0);
  const textCount = rows.reduce((s, { ids }) => s + ids.length - placeholders, 0);
  const stateRow0 = textCount + b * imageLen;
  const zeroRow = stateRow0 + (hasState ? b : 0);
  const textIds = new Int32Array(textCount);
  const gather = new Int32Array(b * length).fill(zeroRow);
  const labels = new Int32Array(b * length).fill(cfg.ignoreIndex);
  const attentionMask = new Int32Array(b * length);
  const boi: number[] = [];
  let next = 0;
  rows.forEach(({ ids, labels: lab }, r) => {
    let pos = r * length;
    ids.forEach((id, i) => {
      if (id === cfg.imageTokenIndex) {
        boi.push(pos - r * length);
        for (let k = 0; k < imageLen; k++, pos++) { gather[pos] = textCount + r * imageLen + k; attentionMask[pos] = 1; }
        return;
      }
      if (hasState && id === cfg.stateTokenIndex) {
        gather[pos] = stateRow0 + r;
        attentionMask[pos] = 1;
        pos++;
        return;
      }
      textIds[next] = id;
      gather[pos] = next++;
      labels[pos] = lab[i]!;
      attentionMask[pos] = 1;
      pos++;
    });
  });
  return { batchSize: b, length, imageLen, textIds, gather, hasState, labels, attentionMask, boi, rowLength };
}

/**
 * inputs_embeds [B, L, D] from the plan, the embedding table [V, D], image features [B, P, D]
 * and, when the rows hold a state placeholder, state features [B, D].
 */
export function spliceEmbeddings(plan: SplicePlan, embedWeight: Tensor, imageFeatures: Tensor, stateFeatures?: Tensor | null): Tensor {
  const d = embedWeight.shape[1]!, backend = embedWeight.backend;
  if (plan.hasState && !stateFeatures) throw new Error('spliceEmbeddings: the prompts hold a state placeholder but no state features were given');
  const ids = F.tensor(plan.textIds, [plan.textIds.length], { backend, dtype: 'int32' });
  const table = F.concat([
    F.embedding(ids, embedWeight),
    F.reshape(imageFeatures, [plan.batchSize * plan.imageLen, d]),
    ...(plan.hasState ? [F.reshape(stateFeatures!, [plan.batchSize, d])] : []),
    F.zeros([1, d], { backend }),
  ], 0);
  const gather = F.tensor(plan.gather, [plan.gather.length], { backend, dtype: 'int32' });
  return F.reshape(F.indexSelect(table, 0, gather), [plan.batchSize, plan.length, d]);
}

/** The hidden states at each row's image positions: [B, P, D] (upstream's recon tokens). */
export function imagePositions(plan: SplicePlan, hidden: Tensor): Tensor {
  const d = hidden.shape[2]!;
  const idx = new Int32Array(plan.batchSize * plan.imageLen);
  plan.boi.forEach((b0, r) => { for (let k = 0; k < plan.imageLen; k++) idx[r * plan.imageLen + k] = r * plan.length + b0 + k; });
  const flat = F.reshape(hidden, [plan.batchSize * plan.length, d]);
  return F.reshape(F.indexSelect(flat, 0, F.tensor(idx, [idx.length], { backend: hidden.backend, dtype: 'int32' })), [plan.batchSize, plan.imageLen, d]);
}
