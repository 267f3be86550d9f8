// Checkpoint I/O for Qwen2ForCausalLM: loading one tensor at a time into an existing model (peak
// memory is the model plus one tensor, not two models), and saving config.json plus safetensors,
// sharded like Hugging Face's save_pretrained, in F32, F16 or BF16.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  encodeBf16, encodeF16, F, Module, nn, noGrad, readFloat16Bits, StateDictError, tidy, writeShardedCheckpoint,
  type Backend, type TensorSource, type TensorsToWrite,
} from '@reconvla/core';

/**
 * Copies every checkpoint tensor whose key (after rename; null skips it) is one of the module's
 * into it. All names and shapes are checked against the checkpoint headers first; with strict (the
 * default) any missing, unexpected or mis-shaped key throws before a single tensor is read.
 * A float16 target (after module.half()) is filled from the entry's float16 bits: BF16/F32
 * checkpoints are converted on upload (round to nearest even; out of range is an error).
 */
export function loadCheckpointInto(module: Module, ckpt: TensorSource, backend: Backend, rename: (name: string) => string | null = (n) => n, strict = true): nn.LoadResult {
  const own = module.stateDict();
  const source = new Map<string, string>(); // key -> checkpoint name
  const result: nn.LoadResult = { missing: [], unexpected: [], mismatched: [] };
  for (const name of ckpt.names()) {
    const key = rename(name);
    if (key === null) continue;
    const t = own.get(key);
    if (!t) { result.unexpected.push(key); continue; }
    const shape = ckpt.info(name).shape;
    if (shape.join() !== t.shape.join()) { result.mismatched.push(`${key}: checkpoint [${shape.join(', ')}], model [${t.shape.join(', ')}]`); continue; }
    source.set(key, name);
  }
  for (const key of own.keys()) if (!source.has(key) && !result.mismatched.some((m) => m.startsWith(`${key}:`))) result.missing.push(key);
  if (strict && (result.missing.length || result.unexpected.length || result.mismatched.length)) throw new StateDictError(result, 'fromPretrained');
  noGrad(() => {
    for (const [key, name] of source) {
      const target = own.get(key)!;
      tidy(() => {
        target.assign(target.dtype === 'float16'
          ? F.fromF16Bits(readFloat16Bits(ckpt, name), target.shape, { backend })
          : F.tensor(ckpt.readFloat32(name), target.shape, { backend }));
      });
    }
  });
  return result;
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
