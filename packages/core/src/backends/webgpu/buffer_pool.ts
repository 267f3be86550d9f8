// Reuses GPU buffers by size class. Allocating a GPUBuffer costs a driver call and, on real
// GPUs, memory-manager work; a training step frees and re-allocates the same shapes every
// iteration, so recycling them makes allocation nearly free.
//
// Size classes: 4 per power of two (at most 25% waste), at least 256 bytes so that every
// buffer can be bound at any 256-byte offset and read as vec4.

export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  pooledBytes = 0;
  constructor(private device: GPUDevice, private usage: GPUBufferUsageFlags, private label: string) {}

  acquire(bytes: number): { buffer: GPUBuffer; capacity: number } {
    const capacity = sizeClass(bytes);
    const list = this.free.get(capacity);
    const reused = list?.pop();
    if (reused) {
      this.pooledBytes -= capacity;
      return { buffer: reused, capacity };
    }
    const buffer = this.device.createBuffer({ size: capacity, usage: this.usage, label: `${this.label}[${capacity}]` });
    return { buffer, capacity };
  }

  release(buffer: GPUBuffer, capacity: number): void {
    let list = this.free.get(capacity);
    if (!list) this.free.set(capacity, list = []);
    list.push(buffer);
    this.pooledBytes += capacity;
  }

  /** Destroys every pooled buffer (memory pressure or shutdown). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }
}
