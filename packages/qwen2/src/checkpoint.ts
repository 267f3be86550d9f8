// Checkpoint I/O for Qwen2ForCausalLM: loading one tensor at a time into an existing model (peak
// memory is the model plus one tensor, not two models), and saving config.json plus safetensors,
// sharded like Hugging Face's save_pretrained, in F32, F16 or BF16.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  encodeBf16, encodeF16, F, Module, nn, noGrad, readFloat16Bits, StateDictError, tidy, writeShardedCheckpoint,
  type Backend, type Tensor, type TensorSource, type TensorsToWrite,
} from '@reconvla/core';

/** What a load did, tensor by tensor: the answer to "what did it skip, fill or convert?". */
export interface LoadReport extends nn.LoadResult {
  /** Model tensors filled from the checkpoint. */
  loaded: number;
  /** Checkpoint tensors read on purpose into nothing, and why (e.g. a tied lm_head equal to the embedding). */
  ignored: { name: string; reason: string }[];
  /** Model tensors the checkpoint did not fill: they keep their fresh initialisation, and why that was accepted. */
  initialised: { name: string; reason: string }[];
  /** Tensors whose values changed dtype on the way in (checkpoint dtype -> model dtype). */
  converted: { name: string; from: string; to: string }[];
}

/** A checkpoint tensor the model holds as another tensor (tie_word_embeddings): accepted when equal. */
export interface TiedCopy { name: string; sameAs: string }

/** Hugging Face's tied LM head: some checkpoints store lm_head.weight as a copy of the embeddings. */
export const TIED_LM_HEAD: TiedCopy = { name: 'lm_head.weight', sameAs: 'model.embed_tokens.weight' };

export interface LoadIntoOptions {
  /** Checkpoint name -> model key; null skips the tensor (reported as ignored). */
  rename?: (name: string) => string | null;
  /** Any missing (not allowed below), unexpected or mis-shaped key throws, before a tensor is read (default true). */
  strict?: boolean;
  /** Model keys that may be absent from the checkpoint: the reason they may, or null (then they are missing). */
  allowMissing?: (key: string) => string | null;
  /** Checkpoint copies of tied tensors (default: lm_head.weight = model.embed_tokens.weight), used when the model has no such key. */
  tied?: readonly TiedCopy[];
  /** The function the user called, for errors (default 'loadCheckpointInto'). */
  where?: string;
}

const MODEL_DTYPE_OF_FILE: Record<string, string> = { F32: 'float32', F16: 'float16', I32: 'int32' };

/** Largest |a - b| and its flat index, reading both checkpoint tensors as float32. */
function maxDifference(ckpt: TensorSource, a: string, b: string): { value: number; index: number } {
  const x = ckpt.readFloat32(a), y = ckpt.readFloat32(b);
  let value = 0, index = -1;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (!(d <= value)) { value = d; index = i; } // NaN counts as a difference
  }
  return { value, index };
}

/**
 * Copies every checkpoint tensor whose key (after rename) is one of the module's into it. All
 * names and shapes are checked against the checkpoint headers first; with strict (the default)
 * any missing, unexpected or mis-shaped key throws before a single tensor is read. A tied copy
 * (lm_head.weight of a tie_word_embeddings model) is accepted when it equals the tensor it is
 * tied to, and an error naming the largest difference otherwise (loading it would silently drop
 * the head). A float16 target (after module.half()) is filled from the entry's float16 bits:
 * BF16/F32 checkpoints are converted on upload (round to nearest even; out of range is an
 * error). Returns the report: loaded, ignored, initialised and converted tensors.
 */
export function loadCheckpointInto(module: Module, ckpt: TensorSource, backend: Backend, renameOrOptions: ((name: string) => string | null) | LoadIntoOptions = {}, strictArg?: boolean): LoadReport {
  const opts: LoadIntoOptions = typeof renameOrOptions === 'function' ? { rename: renameOrOptions } : renameOrOptions;
  const rename = opts.rename ?? ((n: string) => n);
  const strict = strictArg ?? opts.strict ?? true;
  const where = opts.where ?? 'loadCheckpointInto';
  const tied = opts.tied ?? [TIED_LM_HEAD];
  const own = module.stateDict();
  const source = new Map<string, string>(); // key -> checkpoint name
  const report: LoadReport = { loaded: 0, missing: [], unexpected: [], mismatched: [], ignored: [], initialised: [], converted: [] };
  const tiedChecks: TiedCopy[] = [];
  for (const name of ckpt.names()) {
    const copy = tied.find((c) => c.name === name);
    if (copy && !own.has(name) && own.has(copy.sameAs)) { tiedChecks.push(copy); continue; }
    const key = rename(name);
    if (key === null) { report.ignored.push({ name, reason: 'skipped by rename' }); continue; }
    const t = own.get(key);
    if (!t) { report.unexpected.push(key); continue; }
    const shape = ckpt.info(name).shape;
    if (shape.join() !== t.shape.join()) { report.mismatched.push(`${key}: checkpoint [${shape.join(', ')}], model [${t.shape.join(', ')}]`); continue; }
    source.set(key, name);
  }
  for (const key of own.keys()) {
    if (source.has(key) || report.mismatched.some((m) => m.startsWith(`${key}:`))) continue;
    const reason = opts.allowMissing?.(key) ?? null;
    if (reason !== null) report.initialised.push({ name: key, reason });
    else report.missing.push(key);
  }
  if (strict && (report.missing.length || report.unexpected.length || report.mismatched.length)) throw new StateDictError(report, where);
  for (const key of report.missing) report.initialised.push({ name: key, reason: 'not in the checkpoint (strict: false)' });
  for (const key of report.unexpected) report.ignored.push({ name: key, reason: 'no such tensor in the model (strict: false)' });
  for (const copy of tiedChecks) {
    const of = source.get(copy.sameAs) ?? copy.sameAs;
    const a = ckpt.info(copy.name), b = ckpt.has(of) ? ckpt.info(of) : null;
    if (!b || a.shape.join() !== b.shape.join()) {
      throw new Error(`${where}: ${copy.name} [${a.shape.join(', ')}] is tied to ${copy.sameAs} (tie_word_embeddings), which the checkpoint ${b ? `holds as [${b.shape.join(', ')}]` : 'lacks'}`);
    }
    const d = maxDifference(ckpt, copy.name, of);
    if (d.value !== 0) {
      const cols = a.shape[a.shape.length - 1] ?? 1;
      throw new Error(`${where}: ${copy.name} differs from ${copy.sameAs} by up to ${d.value} (at [${Math.floor(d.index / cols)}, ${d.index % cols}]) but the config ties them (tie_word_embeddings: true); set tie_word_embeddings: false to load a separate head`);
    }
    report.ignored.push({ name: copy.name, reason: `equal to ${copy.sameAs} (tie_word_embeddings)` });
  }
  noGrad(() => {
    for (const [key, name] of source) {
      const target = own.get(key)!;
      const fileDtype = ckpt.info(name).dtype;
      if (MODEL_DTYPE_OF_FILE[fileDtype] !== target.dtype) report.converted.push({ name: key, from: fileDtype, to: target.dtype });
      tidy(() => { target.assign(readAs(ckpt, name, target, backend)); });
      report.loaded++;
    }
  });
  return report;
}

function readAs(ckpt: TensorSource, name: string, target: Tensor, backend: Backend): Tensor {
  if (target.dtype === 'float16') return F.fromF16Bits(readFloat16Bits(ckpt, name), target.shape, { backend });
  if (target.dtype === 'int32') return F.tensor(ckpt.readInt32(name), target.shape, { backend, dtype: 'int32' });
  return F.tensor(ckpt.readFloat32(name), target.shape, { backend });
}

/** Names sharing a prefix shown as one line ("prefix* (n tensors)"), the rest one by one. */
function summarizeNames(names: readonly string[]): string {
  if (names.length <= 3) return names.join(', ');
  let prefix = names[0]!;
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('.') + 1);
  return `${prefix || ''}* (${names.length} tensors: ${names.slice(0, 2).join(', ')}, ...)`;
}

function byReason(entries: readonly { name: string; reason: string }[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const e of entries) groups.set(e.reason, [...(groups.get(e.reason) ?? []), e.name]);
  return groups;
}

/** The report as lines a person reads: loaded count, then each kind of event grouped by reason. */
export function formatLoadReport(report: LoadReport, what = 'checkpoint'): string[] {
  const lines = [`${what}: ${report.loaded} tensors loaded`];
  for (const [reason, names] of byReason(report.initialised)) lines.push(`  freshly initialised (${reason}): ${summarizeNames(names)}`);
  for (const [reason, names] of byReason(report.ignored)) lines.push(`  ignored (${reason}): ${summarizeNames(names)}`);
  const conv = new Map<string, string[]>();
  for (const c of report.converted) conv.set(`${c.from} -> ${c.to}`, [...(conv.get(`${c.from} -> ${c.to}`) ?? []), c.name]);
  for (const [how, names] of conv) lines.push(`  converted ${how}: ${summarizeNames(names)}`);
  if (report.mismatched.length) lines.push(`  mis-shaped: ${report.mismatched.join('; ')}`);
  return lines;
}

export interface SavePretrainedOptions {
  /** Storage dtype of the weights (default BF16, as Qwen2 checkpoints ship). */
  floatDtype?: 'F32' | 'F16' | 'BF16';
  /** Shard size limit in bytes (default 2 GB); a model that fits is still written as one shard plus the index. */
  maxShardBytes?: number;
}

/** Writes config.json and the module's state dict as model-0000i-of-0000N.safetensors + model.safetensors.index.json. */
export async function savePretrained(module: Module, config: Record<string, unknown>, dir: string, opts: SavePretrainedOptions = {}): Promise<string[]> {
  const dtype = opts.floatDtype ?? 'BF16';
  const tensors: TensorsToWrite = {};
  // One tensor read back at a time, narrowed right away: the host holds the half-width copy only.
  for (const [name, t] of module.stateDict()) {
    const data = await t.data();
    if (data instanceof Int32Array) tensors[name] = { dtype: 'I32', shape: t.shape, data };
    else tensors[name] = { dtype, shape: t.shape, data: dtype === 'BF16' ? encodeBf16(data) : dtype === 'F16' ? encodeF16(data) : data };
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  return writeShardedCheckpoint(dir, tensors, { maxShardBytes: opts.maxShardBytes ?? 2e9, metadata: { format: 'pt' } }).shardPaths;
}
