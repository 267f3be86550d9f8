// Tensors to and from safetensors files: the bridge between the format code (safetensors/),
// which knows nothing of Tensor, and the tensor layer.
import type { Backend } from './backend.ts';
import { getBackend } from './engine.ts';
import { openCheckpoint, readFloat16Bits, writeSafetensors, type SafetensorsDtype, type TensorInfo, type TensorsToWrite } from './safetensors/index.ts';
import { Tensor } from './tensor.ts';

export interface LoadOptions {
  backend?: Backend;
  /** Only these names (all when omitted). */
  names?: readonly string[];
  /** Strip this prefix from names (and skip names without it). */
  stripPrefix?: string;
  /** Float entries to load as float16 tensors (true: all; a predicate: those it accepts, e.g.
   * the matmul weights). F16 stays bit-exact, BF16/F32/F64 round to nearest even; a finite
   * value beyond float16's range is an error naming the tensor (never a silent inf). */
  float16?: boolean | ((name: string, info: TensorInfo) => boolean);
}

/**
 * Reads a .safetensors file, a folder with model.safetensors, or a sharded checkpoint folder
 * (model.safetensors.index.json) one tensor at a time. Float dtypes (F16/BF16/F64 decoded)
 * become float32 tensors (float16 where opts.float16 asks), integer and bool dtypes int32.
 */
export function fromSafetensors(pathOrDir: string, opts: LoadOptions = {}): Map<string, Tensor> {
  const backend = opts.backend ?? getBackend();
  const src = openCheckpoint(pathOrDir);
  try {
    const out = new Map<string, Tensor>();
    const wanted = opts.names ?? src.names();
    for (const name of wanted) {
      if (opts.stripPrefix !== undefined && !name.startsWith(opts.stripPrefix)) continue;
      const info = src.info(name);
      const isFloat = info.dtype.startsWith('F') || info.dtype === 'BF16';
      const half = isFloat && (typeof opts.float16 === 'function' ? opts.float16(name, info) : opts.float16 === true);
      const data = half ? readFloat16Bits(src, name) : isFloat ? src.readFloat32(name) : src.readInt32(name);
      const key = opts.stripPrefix ? name.slice(opts.stripPrefix.length) : name;
      out.set(key, Tensor.fromStorage(backend, backend.fromArray(data), info.shape));
    }
    return out;
  } finally {
    src.close();
  }
}

export interface SaveOptions {
  /** Storage dtype of float tensors: F32 (default; F16 for float16 tensors, which is lossless),
   * F16 or BF16 (rounded to nearest even). */
  floatDtype?: 'F32' | 'F16' | 'BF16';
  metadata?: Record<string, string>;
}

/** Writes tensors to path atomically (temp file + rename): a crash leaves the previous file intact. */
export async function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, opts: SaveOptions = {}): Promise<void> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const out: TensorsToWrite = {};
  for (const [name, t] of entries) {
    const data = await t.data();
    const dtype: SafetensorsDtype = t.dtype === 'int32' ? 'I32' : opts.floatDtype ?? (t.dtype === 'float16' ? 'F16' : 'F32');
    out[name] = { dtype, shape: t.shape, data };
  }
  writeSafetensors(path, out, opts.metadata);
}
