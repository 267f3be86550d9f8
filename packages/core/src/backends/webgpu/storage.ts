// A WebGPU storage: a pooled GPUBuffer plus dtype and element count. float16 storages hold
// packed halves (two per 32-bit word, little-endian: the layout of WGSL's array<f16>).
import { dtypeBytes, type DType, type Storage } from '../../backend.ts';

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
  /** Bytes per element: 2 for float16, else 4. */
  get elemBytes(): number { return dtypeBytes(this.dtype); }
  /** Bytes of the data, rounded up to whole 32-bit words (copies and bindings need that). */
  get bytes(): number { return storageBytes(this.size, this.dtype); }
}

export function storageBytes(size: number, dtype: DType): number {
  return Math.ceil((size * dtypeBytes(dtype)) / 4) * 4;
}

export function asGPU(s: Storage, what = 'storage'): GPUStorage {
  if (!(s instanceof GPUStorage)) throw new Error(`webgpu backend: ${what} belongs to backend '${s.backend}'`);
  if (s.freed) throw new Error(`webgpu backend: ${what} was used after free()`);
  return s;
}
