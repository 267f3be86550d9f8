// Upstream's prompt (scripts/helper/calvin_json.py + preprocess_qwen_2_vla):
//   "<instr>\n<image>\n<instr>\n<robot state>" ASSISTANT: <action tokens><|im_end|>
// reduced to ids: instruction, the image placeholder, the instruction again, the state tokens,
// assistant, colon, the actions (step-major), end. Labels (mask_qwen_labels) hide everything up to
// and including the last colon, so only the actions and the end token are supervised.
import type { PromptConfig } from './config.ts';

export interface PromptParts {
  instruction: readonly number[];
  state: readonly number[];
  /** Action token ids, step-major (token k = step * action_dim + dim); omit for a generation prompt. */
  actions?: readonly number[];
  /** Explicit grounding ids (prompt.grounding_tokens of them), answered before the actions. */
  grounding?: readonly number[];
}

/** The ids of one row, before padding. Without actions it ends at the colon (what generate continues). */
export function buildPromptIds(parts: PromptParts, cfg: PromptConfig): number[] {
  const img = [cfg.imageTokenIndex];
  const head = cfg.layout === 'instr-image-instr' ? [...parts.instruction, ...img, ...parts.instruction]
    : cfg.layout === 'image-instr' ? [...img, ...parts.instruction]
    : [...parts.instruction, ...img];
  const ids = [...head, ...parts.state, cfg.assistantTokenId, cfg.colonTokenId];
  if (parts.actions) ids.push(...(parts.grounding ?? []), ...parts.actions, cfg.endTokenId);
  return ids;
}

/** mask_qwen_labels: ignore_index up to and including the last colon, the ids after it. */
export function maskLabels(ids: readonly number[], cfg: PromptConfig): number[] {
  const lastColon = ids.lastIndexOf(cfg.colonTokenId);
  return ids.map((id, i) => (i <= lastColon ? cfg.ignoreIndex : id));
}

/** A right-padded batch of prompt rows, on the host (the splice needs the ids there). */
export interface PromptBatch {
  batchSize: number;
  seqLen: number;
  /** [B, T] with pad_token_id after each row. */
  inputIds: Int32Array;
  /** [B, T] 1 = token (the image placeholder included), 0 = padding: (input_ids != pad). */
  attentionMask: Int32Array;
  /** [B, T] ignore_index on padding. */
  labels: Int32Array;
}

/** Pads rows to the longest (the data collator). */
export function collatePrompts(rows: readonly (readonly number[])[], cfg: PromptConfig, withLabels = true): PromptBatch {
  const b = rows.length, t = Math.max(...rows.map((r) => r.length));
  const inputIds = new Int32Array(b * t).fill(cfg.padTokenId);
  const labels = new Int32Array(b * t).fill(cfg.ignoreIndex);
  const attentionMask = new Int32Array(b * t);
  rows.forEach((row, r) => {
    inputIds.set(row, r * t);
    if (withLabels) labels.set(maskLabels(row, cfg), r * t);
    for (let i = 0; i < t; i++) attentionMask[r * t + i] = inputIds[r * t + i] !== cfg.padTokenId ? 1 : 0;
  });
  return { batchSize: b, seqLen: t, inputIds, attentionMask, labels };
}
