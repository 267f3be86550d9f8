// The heap of the wasm backend: one shared WebAssembly.Memory that every kernel module imports
// and every worker thread sees. Blocks come from size-class free lists (four classes per power
// of two, so at most 25% slack), else from a bump pointer that grows the memory by whole pages.
// The first RESERVED bytes hold the thread pool's control block and are never handed out.

import { WA, type WasmMemory } from './webassembly.ts';

export const PAGE = 65536;
/** Bytes at the bottom of memory kept for the pool's control block and command buffers. */
export const RESERVED = 1 << 20;
const MIN_BLOCK = 64;
/** Block addresses are multiples of this (a cache line; v128 loads want 16). */
const ALIGN = 64;

export class WasmOutOfMemoryError extends Error {
  override name = 'WasmOutOfMemoryError';
}

/** The size class of a request: 64, then 2^k * {1, 1.25, 1.5, 1.75}. */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BLOCK) return MIN_BLOCK;
  const p = 2 ** Math.floor(Math.log2(bytes - 1));
  const quarter = p / 4;
  return Math.ceil(Math.ceil(bytes / quarter) * quarter / ALIGN) * ALIGN;
}

export class Heap {
  readonly memory: WasmMemory;
  private top = RESERVED;
  private readonly free = new Map<number, number[]>();
  private freeBytes = 0;
  /** Views over the whole memory; replaced after every grow (a shared buffer never detaches,
   * but old views keep their old length). */
  f32!: Float32Array;
  i32!: Int32Array;
  u8!: Uint8Array;
  /** Called with a description of what is live, for the out-of-memory error. */
  describeLive: () => string = () => '';

  constructor(readonly initialPages: number, readonly maximumPages: number) {
    this.memory = new WA.Memory({ initial: initialPages, maximum: maximumPages, shared: true });
    this.refresh();
  }

  private refresh(): void {
    const buf = this.memory.buffer;
    this.f32 = new Float32Array(buf);
    this.i32 = new Int32Array(buf);
    this.u8 = new Uint8Array(buf);
  }

  get byteLength(): number { return this.memory.buffer.byteLength; }
  get pooledBytes(): number { return this.freeBytes; }
  /** Bytes in use: the reserved area and every block handed out and not freed (leak tests). The
   * memory grows only when usedBytes + pooledBytes (the bump pointer) passes byteLength. */
  get usedBytes(): number { return this.top - this.freeBytes; }

  /** A block of at least `bytes` bytes (contents undefined); returns its address and class size. */
  alloc(bytes: number): { ptr: number; cls: number } {
    const cls = sizeClass(bytes);
    const list = this.free.get(cls);
    if (list && list.length > 0) {
      this.freeBytes -= cls;
      return { ptr: list.pop()!, cls };
    }
    const ptr = this.top, end = ptr + cls;
    if (end > this.byteLength) this.grow(end, bytes);
    this.top = end;
    return { ptr, cls };
  }

  release(ptr: number, cls: number): void {
    let list = this.free.get(cls);
    if (!list) { list = []; this.free.set(cls, list); }
    list.push(ptr);
    this.freeBytes += cls;
  }

  private grow(end: number, requested: number): void {
    const have = this.byteLength / PAGE;
    const need = Math.ceil(end / PAGE);
    // Grow geometrically (x1.5) so a growing workload does not grow page by page.
    const want = Math.min(this.maximumPages, Math.max(need, Math.ceil(have * 1.5)));
    const fail = (why: string): WasmOutOfMemoryError => new WasmOutOfMemoryError(
      `wasm backend: cannot allocate ${requested} bytes (${(requested / 2 ** 20).toFixed(1)} MiB): ${why}. ` +
      `Live: ${this.describeLive()}; ${(this.freeBytes / 2 ** 20).toFixed(1)} MiB pooled in free lists.`);
    if (need > this.maximumPages) {
      throw fail(`the shared memory would need ${(need * PAGE / 2 ** 30).toFixed(3)} GiB, over its maximum of ` +
        `${(this.maximumPages * PAGE / 2 ** 30).toFixed(2)} GiB (wasm32 addresses at most 4 GiB)`);
    }
    try {
      this.memory.grow(want - have);
    } catch {
      try {
        this.memory.grow(need - have); // the host refused the larger step; try the minimum
      } catch (e) {
        throw fail(`the host refused to grow the shared memory from ${(have * PAGE / 2 ** 30).toFixed(2)} to ` +
          `${(need * PAGE / 2 ** 30).toFixed(2)} GiB (${(e as Error).message})`);
      }
    }
    this.refresh();
  }
}
