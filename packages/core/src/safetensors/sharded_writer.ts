// writeShardedCheckpoint: split tensors over model-0000i-of-0000N.safetensors shards plus a
// Hugging Face style model.safetensors.index.json.
//
// Every file is written atomically and the index goes last, so a reader that finds the
// index also finds every shard it names. Shards of an older, differently split write are
// not deleted (the new index simply no longer points at them).

import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { SafetensorsError } from './errors.ts';
import { checkTensor, type TensorsToWrite } from './layout.ts';
import { writeSafetensors } from './writer.ts';
import { writeJsonAtomic } from './atomic.ts';
import { INDEX_FILE_NAME } from './checkpoint.ts';

export interface ShardedWriteOptions {
  /** A shard is closed once adding the next tensor would exceed this many data bytes. A
   * tensor larger than this gets a shard of its own. */
  maxShardBytes: number;
  /** Written into every shard's `__metadata__` and into the index's "metadata". */
  metadata?: Record<string, string>;
}

export interface ShardedWriteResult {
  indexPath: string;
  shardPaths: string[];
}

function shardName(i: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `model-${pad(i + 1)}-of-${pad(count)}.safetensors`;
}

export function writeShardedCheckpoint(dir: string, tensors: TensorsToWrite, options: ShardedWriteOptions): ShardedWriteResult {
  const { maxShardBytes, metadata = {} } = options;
  if (!(Number.isSafeInteger(maxShardBytes) && maxShardBytes > 0)) {
    throw new SafetensorsError(dir, `maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  // Greedy packing in the caller's order (state-dict order), checking every tensor before
  // any file is written.
  const shards: TensorsToWrite[] = [];
  let current: TensorsToWrite = {};
  let currentBytes = 0;
  let totalBytes = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    const bytes = checkTensor(dir, name, tensor);
    if (currentBytes > 0 && currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = {};
      currentBytes = 0;
    }
    current[name] = tensor;
    currentBytes += bytes;
    totalBytes += bytes;
  }
  if (Object.keys(current).length > 0 || shards.length === 0) shards.push(current);

  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new SafetensorsError(dir, `cannot create directory: ${(err as Error).message}`, { cause: err });
  }
  const weightMap: [string, string][] = [];
  const shardPaths: string[] = [];
  shards.forEach((shard, i) => {
    const file = shardName(i, shards.length);
    const path = nodePath.join(dir, file);
    writeSafetensors(path, shard, metadata);
    shardPaths.push(path);
    for (const name of Object.keys(shard)) weightMap.push([name, file]);
  });

  weightMap.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const index = {
    metadata: { ...metadata, total_size: totalBytes },
    weight_map: Object.fromEntries(weightMap),
  };
  const indexPath = nodePath.join(dir, INDEX_FILE_NAME);
  writeJsonAtomic(indexPath, index);
  return { indexPath, shardPaths };
}
