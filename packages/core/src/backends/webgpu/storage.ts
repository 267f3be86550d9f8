// A WebGPU storage: a pooled GPUBuffer plus dtype and element count. float16 storages hold
// packed halves (two per 32-bit word, little-endian: the layout of WGSL's array<f16>). A storage
// may be *pending*: an elementwise expression not computed yet (fusion.ts), whose buffer is
// allocated but unwritten.
import { dtypeBytes, type DType, type Storage } from '../../backend.ts';
import type { FusedNode } from './fusion.ts';

export class GPUStorage implements Storage {
  readonly backend = 'webgpu';
  /** Set by free(); a freed storage must not be used again. */
  freed = false;
  /** Set when the buffer went back to the pool (at free(), or later, see `users`). */
  released = false;
  /** Pending expressions that read this storage: a freed storage keeps its buffer (and, when
   * pending, its expression) until none is left. */
  users = 0;
  /** The expression this storage will hold, while it is not computed yet. */
  pending: FusedNode | null = null;
  constructor(
    readonly dtype: DType,
    readonly size: number,
    /** Replaced only by WebGPURuntime.rebuffer (a freed pending storage computed on its own). */
    public buffer: GPUBuffer,
    /** Bytes of the pooled buffer (its size class), >= size * 4. */
    public capacity: number,
  ) {}
  /** Bytes per element: 2 for float16, else 4. */
  get elemBytes(): number { return dtypeBytes(this.dtype); }
  /** Bytes of the data, rounded up to whole 32-bit words (copies and bindings need that). */
  get bytes(): number { return storageBytes(this.size, this.dtype); }
}

export function storageBytes(size: number, dtype: DType): number {
  return Math.ceil((size * dtypeBytes(dtype)) / 4) * 4;
}

/** The storage, checked, and computed if it was pending: what every kernel needs. */
export function asGPU(s: Storage, what = 'storage'): GPUStorage {
  const g = asGPULazy(s, what);
  if (g.pending) g.pending.fusion.materialise(g);
  return g;
}

/** The storage, checked, left pending if it is (fusion and free()). */
export function asGPULazy(s: Storage, what = 'storage'): GPUStorage {
  if (!(s instanceof GPUStorage)) throw new Error(`webgpu backend: ${what} belongs to backend '${s.backend}'`);
  if (s.freed) throw new Error(`webgpu backend: ${what} was used after free()`);
  return s;
}
