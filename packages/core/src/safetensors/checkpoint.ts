// openCheckpoint: one entry point for the three ways checkpoints ship:
//   - a .safetensors file,
//   - a directory holding model.safetensors,
//   - a directory (or the index file itself) with model.safetensors.index.json:
//     {"metadata": {...}, "weight_map": {tensorName: shardFileName}}.
//
// Sharded checkpoints check up front that every shard file exists, then open each shard's
// header only when one of its tensors is first asked for, and check then that the shard
// really holds every tensor the index maps to it.

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { SafetensorsError, tensorLabel } from './errors.ts';
import { DEFAULT_MAX_HEADER_BYTES, parseMetadata, show, type TensorInfo } from './header.ts';
import { SafetensorsFile, type OpenOptions } from './reader.ts';
import { unknownTensorError, type TensorSource } from './source.ts';

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

interface ParsedIndex {
  metadata: Record<string, string>;
  /** tensor name -> shard file name (relative to the index's directory). */
  weightMap: Map<string, string>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A shard name must stay inside the index's directory. */
function isSafeShardName(file: string): boolean {
  if (file.length === 0 || nodePath.isAbsolute(file)) return false;
  return !file.split(/[\\/]/).includes('..');
}

function parseIndex(indexPath: string, maxBytes: number): ParsedIndex {
  let text: string;
  try {
    const size = fs.statSync(indexPath).size;
    if (size > maxBytes) throw new SafetensorsError(indexPath, `index too large: ${size} bytes, limit is ${maxBytes}`);
    text = fs.readFileSync(indexPath, 'utf8');
  } catch (err) {
    if (err instanceof SafetensorsError) throw err;
    throw new SafetensorsError(indexPath, `cannot read index: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(indexPath, `index is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(indexPath, `index must be a JSON object, got ${show(json)}`);
  const { metadata: rawMetadata, weight_map: rawMap } = json;
  if (!isPlainObject(rawMap)) {
    throw new SafetensorsError(indexPath, `index needs a "weight_map" object of tensor name -> shard file, got ${show(rawMap)}`);
  }
  // Hugging Face writes {"total_size": <number>}; keep such values as their JSON text.
  const metadataStrings = isPlainObject(rawMetadata)
    ? Object.fromEntries(Object.entries(rawMetadata).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
    : rawMetadata;
  const metadata = parseMetadata(indexPath, metadataStrings, 'index "metadata"');
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(rawMap)) {
    if (typeof file !== 'string' || !isSafeShardName(file)) {
      throw new SafetensorsError(indexPath, `weight_map maps ${tensorLabel(name)} to ${show(file)}, which is not a shard file name inside the index's directory`);
    }
    weightMap.set(name, file);
  }
  return { metadata, weightMap };
}

/** A checkpoint split into shards, described by a model.safetensors.index.json. */
export class ShardedCheckpoint implements TensorSource {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private readonly dir: string;
  private readonly weightMap: Map<string, string>;
  private readonly shards = new Map<string, SafetensorsFile>();
  private readonly options: OpenOptions;
  private closed = false;

  private constructor(indexPath: string, index: ParsedIndex, options: OpenOptions) {
    this.path = indexPath;
    this.dir = nodePath.dirname(indexPath);
    this.metadata = index.metadata;
    this.weightMap = index.weightMap;
    this.options = options;
  }

  /** Reads the index and checks that every shard it names exists; opens no shard yet. */
  static open(indexPath: string, options: OpenOptions = {}): ShardedCheckpoint {
    const index = parseIndex(indexPath, options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES);
    const dir = nodePath.dirname(indexPath);
    const tensorsPerShard = new Map<string, string[]>();
    for (const [name, file] of index.weightMap) {
      const list = tensorsPerShard.get(file);
      if (list === undefined) tensorsPerShard.set(file, [name]);
      else list.push(name);
    }
    const missing = [...tensorsPerShard].filter(([file]) => !fs.existsSync(nodePath.join(dir, file)));
    if (missing.length > 0) {
      const described = missing
        .slice(0, 5)
        .map(([file, names]) => `${JSON.stringify(file)} (holds ${names.length} tensor${names.length === 1 ? '' : 's'}, e.g. ${JSON.stringify(names[0])})`);
      throw new SafetensorsError(
        indexPath,
        `${missing.length} of ${tensorsPerShard.size} shard files named in weight_map are missing from ${dir}: ${described.join(', ')}${missing.length > 5 ? ', ...' : ''}`,
      );
    }
    return new ShardedCheckpoint(indexPath, index, options);
  }

  /** Names in index order. */
  names(): string[] {
    return [...this.weightMap.keys()];
  }

  has(name: string): boolean {
    return this.weightMap.has(name);
  }

  /** The shard files named by the index, in first-use order. */
  shardFiles(): string[] {
    return [...new Set(this.weightMap.values())];
  }

  /** Opens every shard now, so that a broken shard is reported before any work starts. */
  validateAll(): void {
    for (const file of this.shardFiles()) this.shard(file);
  }

  private shard(file: string): SafetensorsFile {
    if (this.closed) throw new SafetensorsError(this.path, 'checkpoint is closed');
    let shard = this.shards.get(file);
    if (shard === undefined) {
      shard = SafetensorsFile.open(nodePath.join(this.dir, file), this.options);
      for (const [name, mapped] of this.weightMap) {
        if (mapped === file && !shard.has(name)) {
          shard.close();
          throw new SafetensorsError(this.path, `weight_map puts ${tensorLabel(name)} in ${JSON.stringify(file)}, but that shard has no such tensor`);
        }
      }
      this.shards.set(file, shard);
    }
    return shard;
  }

  private shardOf(name: string): SafetensorsFile {
    const file = this.weightMap.get(name);
    if (file === undefined) throw unknownTensorError(this.path, name, this.names());
    return this.shard(file);
  }

  info(name: string): TensorInfo {
    return this.shardOf(name).info(name);
  }

  readBytes(name: string): Uint8Array {
    return this.shardOf(name).readBytes(name);
  }

  readFloat32(name: string): Float32Array {
    return this.shardOf(name).readFloat32(name);
  }

  readFloat64(name: string): Float64Array {
    return this.shardOf(name).readFloat64(name);
  }

  readInt32(name: string): Int32Array {
    return this.shardOf(name).readInt32(name);
  }

  readBigInt64(name: string): BigInt64Array {
    return this.shardOf(name).readBigInt64(name);
  }

  close(): void {
    this.closed = true;
    for (const shard of this.shards.values()) shard.close();
    this.shards.clear();
  }
}

/**
 * Opens a checkpoint given a .safetensors file, an index .json file, or a directory holding
 * model.safetensors.index.json (preferred) or model.safetensors.
 */
export function openCheckpoint(pathOrDir: string, options: OpenOptions = {}): TensorSource {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(pathOrDir);
  } catch (err) {
    throw new SafetensorsError(pathOrDir, `cannot open checkpoint: ${(err as Error).message}`, { cause: err });
  }
  if (!stat.isDirectory()) {
    return pathOrDir.endsWith('.json') ? ShardedCheckpoint.open(pathOrDir, options) : SafetensorsFile.open(pathOrDir, options);
  }
  const indexPath = nodePath.join(pathOrDir, INDEX_FILE_NAME);
  if (fs.existsSync(indexPath)) return ShardedCheckpoint.open(indexPath, options);
  const singlePath = nodePath.join(pathOrDir, SINGLE_FILE_NAME);
  if (fs.existsSync(singlePath)) return SafetensorsFile.open(singlePath, options);
  let found: string[] = [];
  try {
    found = fs.readdirSync(pathOrDir).filter((f) => f.endsWith('.safetensors') || f.endsWith('.json'));
  } catch {
    // The listing only enriches the message.
  }
  const hint = found.length > 0 ? `; it has ${found.slice(0, 5).map((f) => JSON.stringify(f)).join(', ')}` : '';
  throw new SafetensorsError(pathOrDir, `directory has neither ${INDEX_FILE_NAME} nor ${SINGLE_FILE_NAME}${hint}`);
}
