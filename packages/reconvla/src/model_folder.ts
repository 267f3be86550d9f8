// An exported model folder in Hugging Face's layout, what `reconvla export` writes and the
// PyTorch twin (python/reconvla_twin) reads and writes:
//   config.json                    the nested ReconVLA config (upstream's field names)
//   model.safetensors              every weight under ReconQwen2ForCausalLM's state-dict names, or,
//   model.safetensors.index.json   past the shard size, HF's index {metadata: {total_size}, weight_map}
//   model-0000i-of-0000N.safetensors  and its shards
//   vocab.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json   (tokenizer_files.ts)
//   README.md                      the model card (written by the CLI, which knows the run)
// Loading checks every tensor against the config before copying any, and names the file (the
// shard, for a sharded folder), the tensor, and the shape or dtype that is wrong.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  INDEX_FILE_NAME, openCheckpoint, SINGLE_FILE_NAME, tidy, Tensor, writeSafetensors, writeShardedCheckpoint,
  type Backend, type TensorsToWrite, type TensorSource,
} from '@reconvla/core';
import { parseReconVLAConfig, type Json } from './config.ts';
import { checkStoredWordIds, reconVLAConfigToJson } from './config_json.ts';
import { ReconVLA } from './model.ts';
import { loadRun } from './run.ts';
import type { TrainConfig } from './train/config.ts';
import { tokenizerFiles, wordsFromVocab } from './tokenizer_files.ts';

/** Upstream checkpoints hold only the VAE's encoder; ours hold the decoder too (it draws the reconstructions). */
const OPTIONAL_PREFIX = 'model.pixel_decoder.pixel_decoder.decoder.';

/** Hugging Face's default shard limit of save_pretrained. */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

/** "5GB", "500MB", "2GiB", "1000" (bytes) -> bytes, as Hugging Face's convert_file_size_to_int reads them. */
export function parseShardSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(text);
  if (!m) throw new Error(`shard size "${text}": expected bytes or a size such as 500MB, 5GB or 2GiB`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const scale: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };
  const bytes = Math.floor(Number(m[1]) * scale[unit]!);
  if (!(bytes > 0)) throw new Error(`shard size "${text}" must be more than 0 bytes`);
  return bytes;
}

export interface WriteFolderOptions {
  /** Shard past this many bytes of tensor data (default DEFAULT_MAX_SHARD_BYTES). */
  maxShardBytes?: number;
  /** Extra files (name -> text): the model card, the training config. */
  extraFiles?: Record<string, string>;
  /** Replace an existing, non-empty `dir`. */
  force?: boolean;
}

export interface WrittenFolder { dir: string; files: string[]; sharded: boolean; bytes: number }

/** The weights as the safetensors writer takes them (float32 as F32, int32 as I32). */
async function weightsToWrite(model: ReconVLA): Promise<TensorsToWrite> {
  const out: TensorsToWrite = {};
  for (const [name, t] of model.stateDict()) out[name] = { dtype: t.dtype === 'int32' ? 'I32' : 'F32', shape: [...t.shape], data: await t.data() };
  return out;
}

/**
 * Writes the folder under a temporary name beside `dir` and renames it into place, so `dir` is
 * either the old folder or the complete new one. An existing `dir` is replaced only with `force`.
 */
export async function writeModelFolder(model: ReconVLA, dir: string, opts: WriteFolderOptions = {}): Promise<WrittenFolder> {
  if (fs.existsSync(dir) && !opts.force && fs.readdirSync(dir).length > 0) {
    throw new Error(`${dir} exists and is not empty (pass --force to replace it)`);
  }
  const tmp = `${dir.replace(/[\\/]+$/, '')}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const weights = await weightsToWrite(model);
    const bytes = Object.values(weights).reduce((s, t) => s + t.data.byteLength, 0);
    const max = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
    const sharded = bytes > max;
    if (sharded) writeShardedCheckpoint(tmp, weights, { maxShardBytes: max, metadata: { format: 'pt' } });
    else writeSafetensors(path.join(tmp, SINGLE_FILE_NAME), weights, { format: 'pt' });
    const text: Record<string, string> = { 'config.json': JSON.stringify(reconVLAConfigToJson(model.config), null, 2) + '\n' };
    if (model.config.words) Object.assign(text, tokenizerFiles(model.config));
    Object.assign(text, opts.extraFiles ?? {});
    for (const [name, body] of Object.entries(text)) fs.writeFileSync(path.join(tmp, name), body);
    const old = `${tmp}.old`;
    if (fs.existsSync(dir)) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    fs.rmSync(old, { recursive: true, force: true });
    return { dir, files: fs.readdirSync(dir).sort(), sharded, bytes };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** True when `dir` looks like an exported folder (config.json beside model.safetensors or its index). */
export function isModelFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json'))
    && (fs.existsSync(path.join(dir, SINGLE_FILE_NAME)) || fs.existsSync(path.join(dir, INDEX_FILE_NAME)));
}

function readJson(file: string): unknown {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new Error(`${file}: cannot read (${(e as Error).message})`); }
  try { return JSON.parse(text); } catch (e) { throw new Error(`${file}: not valid JSON (${(e as Error).message})`); }
}

/** config.json, with the word list taken from vocab.json when the config has none, and the two checked against each other. */
export function readFolderConfig(dir: string): Json {
  if (!fs.existsSync(dir)) throw new Error(`${dir}: no such model folder`);
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing (an exported model folder holds config.json and ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME}; write one with \`reconvla export\`)`);
  const json = readJson(file);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${file}: must be a JSON object`);
  const config = json as Json;
  const vocabFile = path.join(dir, 'vocab.json');
  if (fs.existsSync(vocabFile)) {
    const words = wordsFromVocab(readJson(vocabFile), vocabFile);
    const have = (config.word_tokenizer as { words?: unknown } | undefined)?.words;
    if (have === undefined) config.word_tokenizer = { words };
    else if (!Array.isArray(have)) throw new Error(`${file}: word_tokenizer.words must be a list of words`);
    else {
      const i = words.findIndex((w, k) => have[k] !== w);
      if (i >= 0 || words.length !== have.length) {
        const at = i >= 0 ? i : Math.min(words.length, have.length);
        throw new Error(`${vocabFile} and ${file} disagree: id ${at + 5} is ${JSON.stringify(words[at] ?? null)} in vocab.json, ${JSON.stringify(have[at] ?? null)} in word_tokenizer.words`);
      }
    }
  }
  return config;
}

/** Every problem of the checkpoint against the model's state dict, each naming the file and tensor. */
function checkWeights(src: TensorSource, model: ReconVLA): string[] {
  const problems: string[] = [];
  const own = model.stateDict();
  const where = (name: string): string => path.basename(src.info(name).path);
  for (const [name, t] of own) {
    if (!src.has(name)) {
      if (!name.startsWith(OPTIONAL_PREFIX)) problems.push(`tensor ${name} [${t.shape.join(', ')}] is missing`);
      continue;
    }
    const info = src.info(name);
    if (info.shape.join() !== t.shape.join()) problems.push(`${where(name)}: tensor ${name} has shape [${info.shape.join(', ')}], the config gives [${t.shape.join(', ')}]`);
    const isFloat = ['F64', 'F32', 'F16', 'BF16'].includes(info.dtype);
    if (t.dtype !== 'int32' && !isFloat) problems.push(`${where(name)}: tensor ${name} has dtype ${info.dtype}, expected a float (F32, F16, BF16 or F64)`);
  }
  // save_pretrained leaves a tied lm_head out; a writer that keeps it is not wrong (the embedding is what is used).
  const tiedHead = (name: string): boolean => name === 'lm_head.weight' && model.config.llm.tieWordEmbeddings;
  for (const name of src.names()) if (!own.has(name) && !tiedHead(name)) problems.push(`${where(name)}: tensor ${name} is not a parameter of this config`);
  return problems;
}

/** A model from an exported folder (sharded or not); every mismatch is reported at once. */
export function loadModelFolder(dir: string, backend: Backend): ReconVLA {
  const configJson = readFolderConfig(dir);
  let config;
  const file = path.join(dir, 'config.json');
  try { config = parseReconVLAConfig(configJson); } catch (e) { throw new Error(`${file}: ${(e as Error).message}`); }
  checkStoredWordIds(config.json, file);
  if (fs.existsSync(path.join(dir, SINGLE_FILE_NAME)) && fs.existsSync(path.join(dir, INDEX_FILE_NAME))) {
    throw new Error(`${dir} holds both ${SINGLE_FILE_NAME} and ${INDEX_FILE_NAME}: remove the stale one`);
  }
  const model = new ReconVLA(config, { backend });
  const src = openCheckpoint(dir);
  try {
    const problems = checkWeights(src, model);
    if (problems.length > 0) {
      const shown = problems.slice(0, 12).join('; ');
      throw new Error(`${src.path}: ${problems.length} problem(s) with the weights: ${shown}${problems.length > 12 ? `; and ${problems.length - 12} more` : ''}`);
    }
    tidy(() => {
      const sd = new Map<string, Tensor>();
      for (const [name, t] of model.stateDict()) {
        if (!src.has(name)) continue;
        const data = t.dtype === 'int32' ? src.readInt32(name) : src.readFloat32(name);
        sd.set(name, Tensor.fromStorage(backend, backend.fromArray(data), [...t.shape]));
      }
      model.loadStateDict(sd, { strict: false });
      for (const t of sd.values()) t.dispose();
    });
  } finally {
    src.close();
  }
  return model;
}

/**
 * What a command's `--run RUN` or `--model DIR` names (exactly one of them): the model, the
 * training config (an exported folder keeps the run's as train.json), and where it came from.
 */
export function loadRunOrFolder(o: { run?: string | undefined; model?: string | undefined }, backend: Backend): { model: ReconVLA; train: TrainConfig | null; from: string } {
  if (o.run && o.model) throw new Error('give --run or --model, not both');
  if (o.model) {
    const trainFile = path.join(o.model, 'train.json');
    const train = fs.existsSync(trainFile) ? (readJson(trainFile) as TrainConfig) : null;
    return { model: loadModelFolder(o.model, backend), train, from: o.model };
  }
  if (!o.run) throw new Error('give --run RUN (a run folder) or --model DIR (an exported model folder)');
  return loadRun(o.run, backend);
}
