// A WebGPU storage: a pooled GPUBuffer plus dtype and element count.
import type { DType, Storage } from '../../backend.ts';

export class GPUStorage implements Storage {
  readonly backend = 'webgpu';
  /** Set by free(); a freed storage must not be used again. */
  freed = false;
  constructor(
    readonly dtype: DType,
    readonly size: number,
    readonly buffer: GPUBuffer,
    /** Bytes of the pooled buffer (its size class), >= size * 4. */
    readonly capacity: number,
  ) {}
  get bytes(): number { return this.size * 4; }
}

export function asGPU(s: Storage, what = 'storage'): GPUStorage {
  if (!(s instanceof GPUStorage)) throw new Error(`webgpu backend: ${what} belongs to backend '${s.backend}'`);
  if (s.freed) throw new Error(`webgpu backend: ${what} was used after free()`);
  return s;
}
