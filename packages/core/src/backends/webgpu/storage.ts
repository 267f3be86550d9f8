// A WebGPU storage: a pooled GPUBuffer plus dtype and element count. It may be *pending*: an
// elementwise expression not computed yet (fusion.ts), whose buffer is allocated but unwritten.
import type { DType, Storage } from '../../backend.ts';
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
  get bytes(): number { return this.size * 4; }
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
