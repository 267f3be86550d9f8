// Per-thread scratch blocks (GEMM packing buffers, score tiles) carved from the heap and kept
// between calls; they grow when a bigger problem comes and are not counted as live storages.
import type { Heap } from './memory.ts';

interface Block { ptr: number; cls: number; bytes: number }

export class Scratch {
  private readonly blocks = new Map<string, Block>();
  constructor(private readonly heap: Heap) {}

  /** A block of at least `bytes` under `name` (contents undefined). */
  get(name: string, bytes: number): number {
    const b = this.blocks.get(name);
    if (b && b.bytes >= bytes) return b.ptr;
    if (b) this.heap.release(b.ptr, b.cls);
    const { ptr, cls } = this.heap.alloc(bytes);
    this.blocks.set(name, { ptr, cls, bytes: cls });
    return ptr;
  }

  gemm(thread: number, need: { packA: number; packB: number; tile: number }): { packA: number; packB: number; tile: number } {
    return { packA: this.get(`gemm.packA.${thread}`, need.packA), packB: this.get(`gemm.packB.${thread}`, need.packB), tile: this.get(`gemm.tile.${thread}`, need.tile) };
  }

  get bytes(): number { let s = 0; for (const b of this.blocks.values()) s += b.bytes; return s; }
}
