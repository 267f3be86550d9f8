// TensorSource: what model loaders need from a checkpoint, whether it is one
// .safetensors file or a sharded set behind a model.safetensors.index.json.

import { SafetensorsError, tensorLabel } from './errors.ts';
import type { TensorInfo } from './header.ts';

export type { TensorInfo } from './header.ts';

export interface TensorSource {
  /** The file or index this source was opened from. */
  readonly path: string;
  /** `__metadata__` of a single file, or the index's "metadata" (non-strings JSON-encoded). */
  readonly metadata: Record<string, string>;
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** The tensor's raw little-endian bytes, read with a positioned read of just that range. */
  readBytes(name: string): Uint8Array;
  /** Any dtype as float32 (rounding to nearest where float32 cannot hold the value). */
  readFloat32(name: string): Float32Array;
  /** Any dtype as float64, exactly; 64-bit ints beyond +-(2^53 - 1) are an error. */
  readFloat64(name: string): Float64Array;
  /** Integer/BOOL dtypes as int32; values outside int32 are an error. */
  readInt32(name: string): Int32Array;
  /** Integer/BOOL dtypes as exact int64. */
  readBigInt64(name: string): BigInt64Array;
  /** Releases file handles; further reads throw. Safe to call twice. */
  close(): void;
}

/** The error for a missing tensor, listing the names most similar to the one asked for. */
export function unknownTensorError(path: string, name: string, available: readonly string[]): SafetensorsError {
  const commonPrefix = (s: string) => {
    let i = 0;
    while (i < s.length && i < name.length && s[i] === name[i]) i++;
    return i;
  };
  const close = [...available].sort((a, b) => commonPrefix(b) - commonPrefix(a) || (a < b ? -1 : 1)).slice(0, 5);
  const list = close.length === 0 ? 'the file holds no tensors' : `${available.length} available, e.g. ${close.map((n) => JSON.stringify(n)).join(', ')}`;
  return new SafetensorsError(path, `no ${tensorLabel(name)} (${list})`);
}
