// Model batches built by hand: from tensors (what a script that loaded ids from numpy or
// safetensors holds: int64 ids, an optional mask and labels) or from plain arrays (prompt rows of
// ids, flat pixel values). forward wants ids on the host (the splice plans there) and images as
// tensors; these helpers check every shape, id and dtype on the way, narrow int64 ids to int32
// with an error naming the first that does not fit, and refuse a batch that asks for the
// reconstruction loss without its target images.
import { tensor, type Tensor } from '@reconvla/core';
import { stateFeatureWidth, type ReconVLAConfig } from './config.ts';
import type { ReconInputs, ReconVLA } from './model.ts';
import { collatePrompts, maskLabels, type PromptBatch } from './prompt.ts';

/** Integer ids as a tensor [B, T], or host values with their shape (int64 as BigInt64Array). */
export type IdsTensor = Tensor | { data: BigInt64Array | Int32Array | Float32Array | readonly number[]; shape: readonly number[] };

export interface BatchOptions {
  /** Compute the reconstruction loss (default: the config's ablation.recon); true needs targetImages. */
  vmLoss?: boolean;
  /** Compute the action loss (default true). */
  lmLoss?: boolean;
}

export interface TensorBatch {
  /** [B, T] prompt ids with the image placeholder (and the state placeholder of the 'linear'/'fourier' encodings). */
  inputIds: IdsTensor;
  /** [B, T] 1 = token, 0 = padding (default: ids != pad_token_id). */
  attentionMask?: IdsTensor;
  /** [B, T] (default: the ids after the last colon, ignore_index elsewhere and on padding). */
  labels?: IdsTensor;
  /** [B x views, 3, S, S] normalised pixels, each sample's views in order. */
  pixelValues: Tensor;
  /** [B, 3, s, s] the reconstruction targets (gaze crops), normalised like pixelValues. */
  targetImages?: Tensor;
  /** [B, F] Processor.stateValues, for the 'linear' / 'fourier' state encodings. */
  stateValues?: Tensor;
}

export interface ArrayBatch {
  /** Prompt rows of ids (ragged: padded on the right like collatePrompts). */
  inputIds: readonly (readonly (number | bigint)[])[];
  /** Per-row labels (default: masked as training prompts are); ragged like inputIds. */
  labels?: readonly (readonly (number | bigint)[])[];
  /** B x views x 3 x S x S values, sample-major, normalised. */
  pixelValues: Float32Array | readonly number[];
  /** B x 3 x s x s values (s from the length). */
  targetImages?: Float32Array | readonly number[];
  /** B x F values. */
  stateValues?: Float32Array | readonly number[];
}

/** Narrows host ids to int32; an id that is not an integer in int32's range is an error naming where. */
function toInt32(values: BigInt64Array | Int32Array | Float32Array | ArrayLike<number | bigint>, shape: readonly number[], what: string, firstRow = 0): Int32Array {
  const out = new Int32Array(values.length);
  const cols = shape[shape.length - 1] ?? 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const n = typeof v === 'bigint' ? (v >= -2147483648n && v <= 2147483647n ? Number(v) : NaN) : v;
    if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) {
      throw new Error(`${what}[${firstRow + Math.floor(i / cols)}, ${i % cols}] = ${String(v)} is not an int32 id (ids are narrowed from int64 to int32)`);
    }
    out[i] = n;
  }
  return out;
}

async function hostIds(ids: IdsTensor, what: string): Promise<{ data: Int32Array; shape: number[] }> {
  const shape = [...ids.shape];
  const data = typeof ids.data === 'function' ? await (ids as Tensor).data() : (ids as Exclude<IdsTensor, Tensor>).data;
  if (shape.length !== 2) throw new Error(`${what} must be [B, T], got [${shape.join(', ')}]`);
  if (data.length !== shape[0]! * shape[1]!) throw new Error(`${what}: ${data.length} values for the shape [${shape.join(', ')}]`);
  return { data: toInt32(data, shape, what), shape };
}

/** Checks ids against the vocabulary and the placeholders, masks and labels against the ids. */
function promptBatch(config: ReconVLAConfig, ids: { data: Int32Array; shape: number[] }, mask: Int32Array | null, labels: Int32Array | null, where: string): PromptBatch {
  const [b, t] = ids.shape as [number, number];
  const p = config.prompt, vocab = config.llm.vocabSize;
  for (let i = 0; i < ids.data.length; i++) {
    const id = ids.data[i]!;
    if ((id < 0 || id >= vocab) && id !== p.imageTokenIndex && id !== p.stateTokenIndex) {
      throw new Error(`${where}: inputIds[${Math.floor(i / t)}, ${i % t}] = ${id} is outside the vocabulary [0, ${vocab}) and not a placeholder (image ${p.imageTokenIndex}, state ${p.stateTokenIndex})`);
    }
  }
  const attentionMask = mask ?? Int32Array.from(ids.data, (id) => (id !== p.padTokenId ? 1 : 0));
  attentionMask.forEach((m, i) => { if (m !== 0 && m !== 1) throw new Error(`${where}: attentionMask[${Math.floor(i / t)}, ${i % t}] = ${m} (0 or 1)`); });
  let lab = labels;
  if (!lab) {
    lab = new Int32Array(b * t).fill(p.ignoreIndex);
    for (let r = 0; r < b; r++) {
      const row = [...ids.data.subarray(r * t, (r + 1) * t)].filter((_, i) => attentionMask[r * t + i] === 1);
      const masked = maskLabels(row, p);
      let k = 0;
      for (let i = 0; i < t; i++) if (attentionMask[r * t + i] === 1) lab[r * t + i] = masked[k++]!;
    }
  }
  lab.forEach((l, i) => {
    if (l !== p.ignoreIndex && (l < 0 || l >= vocab)) throw new Error(`${where}: labels[${Math.floor(i / t)}, ${i % t}] = ${l} is neither ignore_index ${p.ignoreIndex} nor an id below ${vocab}`);
  });
  return { batchSize: b, seqLen: t, inputIds: ids.data, attentionMask, labels: lab };
}

function checkShape(t: Tensor, want: readonly (number | null)[], what: string, where: string): void {
  const ok = t.shape.length === want.length && want.every((w, i) => w === null || t.shape[i] === w);
  if (!ok) throw new Error(`${where}: ${what} is [${t.shape.join(', ')}], expected [${want.map((w) => w ?? '*').join(', ')}]`);
  if (t.dtype === 'int32') throw new Error(`${where}: ${what} has dtype int32, expected float pixel values`);
}

/** The image tensors checked against the config and the batch size; the recon targets demanded when the loss needs them. */
function finish(model: ReconVLA, prompts: PromptBatch, images: Pick<TensorBatch, 'pixelValues' | 'targetImages' | 'stateValues'>, opts: BatchOptions, where: string): ReconInputs {
  const c = model.config, b = prompts.batchSize, views = c.views.length, s = c.vision.imageSize;
  checkShape(images.pixelValues, [b * views, 3, s, s], `pixelValues (${b} samples x ${views} view(s): ${c.views.join(', ')})`, where);
  const vmLoss = opts.vmLoss ?? c.ablation.recon;
  if (vmLoss && !images.targetImages) {
    throw new Error(`${where}: the reconstruction loss is on (${opts.vmLoss === undefined ? 'the config\'s ablation.recon' : 'vmLoss: true'}) but targetImages is missing: pass the gaze crops [${b}, 3, s, s], or { vmLoss: false } for the action loss alone`);
  }
  if (images.targetImages) {
    checkShape(images.targetImages, [b, 3, null, null], 'targetImages', where);
    if (images.targetImages.shape[2] !== images.targetImages.shape[3]) throw new Error(`${where}: targetImages [${images.targetImages.shape.join(', ')}] must be square`);
  }
  if (c.prompt.stateEncoding !== 'bins') {
    if (!images.stateValues) throw new Error(`${where}: the state encoding is "${c.prompt.stateEncoding}": pass stateValues [${b}, ${stateFeatureWidth(c.prompt)}] (Processor.stateValues)`);
    checkShape(images.stateValues, [b, stateFeatureWidth(c.prompt)], 'stateValues', where);
  }
  return {
    pixelValues: images.pixelValues, prompts, vmLoss, lmLoss: opts.lmLoss ?? true,
    ...(images.targetImages ? { targetImages: images.targetImages } : {}),
    ...(images.stateValues ? { stateValues: images.stateValues } : {}),
  };
}

/**
 * A forward() batch from tensors: ids, mask and labels as int32/float tensors or int64 host
 * arrays (narrowed, checked), images as tensors on the model's backend.
 */
export async function batchFromTensors(model: ReconVLA, batch: TensorBatch, opts: BatchOptions = {}): Promise<ReconInputs> {
  const where = 'batchFromTensors';
  const ids = await hostIds(batch.inputIds, `${where}: inputIds`);
  const same = async (x: IdsTensor | undefined, what: string): Promise<Int32Array | null> => {
    if (!x) return null;
    const h = await hostIds(x, `${where}: ${what}`);
    if (h.shape.join() !== ids.shape.join()) throw new Error(`${where}: ${what} is [${h.shape.join(', ')}], inputIds [${ids.shape.join(', ')}]`);
    return h.data;
  };
  const prompts = promptBatch(model.config, ids, await same(batch.attentionMask, 'attentionMask'), await same(batch.labels, 'labels'), where);
  return finish(model, prompts, batch, opts, where);
}

/** A forward() batch from plain arrays: prompt rows (padded here) and flat pixel values. */
export function batchFromArrays(model: ReconVLA, batch: ArrayBatch, opts: BatchOptions = {}): ReconInputs {
  const where = 'batchFromArrays';
  const c = model.config, backend = model.backend;
  if (batch.inputIds.length === 0) throw new Error(`${where}: inputIds has no rows`);
  const rows = batch.inputIds.map((r, i) => [...toInt32(r as ArrayLike<number | bigint>, [1, r.length], `${where}: inputIds`, i)]);
  const collated = collatePrompts(rows, c.prompt);
  let labels: Int32Array | null = null;
  if (batch.labels) {
    if (batch.labels.length !== rows.length || batch.labels.some((l, i) => l.length !== rows[i]!.length)) throw new Error(`${where}: labels must have the rows and row lengths of inputIds`);
    labels = new Int32Array(collated.batchSize * collated.seqLen).fill(c.prompt.ignoreIndex);
    batch.labels.forEach((l, r) => labels!.set(toInt32(l as ArrayLike<number | bigint>, [1, l.length], `${where}: labels`, r), r * collated.seqLen));
  }
  const prompts = promptBatch(c, { data: collated.inputIds, shape: [collated.batchSize, collated.seqLen] }, collated.attentionMask, labels ?? collated.labels, where);
  const b = prompts.batchSize, s = c.vision.imageSize, n = b * c.views.length;
  const image = (values: Float32Array | readonly number[], shape: number[], what: string): Tensor => {
    const want = shape.reduce((a, x) => a * x, 1);
    if (values.length !== want) throw new Error(`${where}: ${what} has ${values.length} values, expected ${shape.join(' x ')} = ${want}`);
    return tensor(Float32Array.from(values), shape, { backend });
  };
  let targetImages: Tensor | undefined;
  if (batch.targetImages) {
    const side = Math.round(Math.sqrt(batch.targetImages.length / (b * 3)));
    targetImages = image(batch.targetImages, [b, 3, side, side], 'targetImages');
  }
  return finish(model, prompts, {
    pixelValues: image(batch.pixelValues, [n, 3, s, s], 'pixelValues'),
    ...(targetImages ? { targetImages } : {}),
    ...(batch.stateValues ? { stateValues: image(batch.stateValues, [b, stateFeatureWidth(c.prompt)], 'stateValues') } : {}),
  }, opts, where);
}
