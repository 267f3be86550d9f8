// Opt-in GPU time per kernel (RECONVLA_DEBUG=webgpu-profile, or `profile: true`), from timestamp
// queries: each dispatch gets its own compute pass with begin/end timestamps, resolved into a
// buffer when the batch is submitted and read back when the host next waits for the queue anyway
// (read, sync), so profiling adds no round trip of its own. Rows are keyed by kernel
// (`file:entry`) and op (the label up to its shapes), e.g. `binary:binary binary.mul`, so a
// training step's GPU time splits into the kernels worth tuning. Off by default: one pass per
// dispatch costs a little on every adapter.

export interface GpuProfileRow { kernel: string; calls: number; ms: number; work: number }

interface Pending { buffer: GPUBuffer; keys: string[]; works: number[] }

export class GpuProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private keys: string[] = [];
  private works: number[] = [];
  private pending: Pending[] = [];
  private readonly rows = new Map<string, GpuProfileRow>();

  /** capacity: dispatches per batch at most (the runtime submits before exceeding it). */
  constructor(private readonly device: GPUDevice, capacity: number) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * capacity, label: 'profile' });
    this.resolveBuffer = device.createBuffer({ size: 16 * capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'profile resolve' });
  }

  /** Timestamp writes for the pass of the next dispatch, recorded under `label`'s op. */
  passWrites(kernel: string, label: string, work: number): GPUComputePassTimestampWrites {
    const i = this.keys.length;
    this.keys.push(`${kernel} ${label.split(/[[ ]/)[0]}`);
    this.works.push(work);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Resolves this batch's timestamps into a readable buffer (before the encoder is finished). */
  resolve(encoder: GPUCommandEncoder): void {
    const n = this.keys.length;
    if (n === 0) return;
    const buffer = this.device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profile read' });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, buffer, 0, 16 * n);
    this.pending.push({ buffer, keys: this.keys, works: this.works });
    this.keys = [];
    this.works = [];
  }

  /** Adds the resolved batches to the rows; call when the queue is idle (maps resolve at once). */
  async collect(): Promise<void> {
    const batches = this.pending;
    this.pending = [];
    for (const b of batches) {
      await b.buffer.mapAsync(GPUMapMode.READ);
      const t = new BigInt64Array(b.buffer.getMappedRange().slice(0));
      b.buffer.unmap();
      b.buffer.destroy();
      b.keys.forEach((key, i) => {
        const ns = Number(t[2 * i + 1]! - t[2 * i]!);
        const r = this.rows.get(key) ?? { kernel: key, calls: 0, ms: 0, work: 0 };
        r.calls++; r.ms += Math.max(0, ns) / 1e6; r.work += b.works[i]!;
        this.rows.set(key, r);
      });
    }
  }

  /** Rows sorted by GPU time, largest first. */
  report(): GpuProfileRow[] { return [...this.rows.values()].sort((a, b) => b.ms - a.ms).map((r) => ({ ...r })); }
  reset(): void { this.rows.clear(); }

  /** A text table: kernel and op, calls, GPU ms, share, and Gwork/s: the runtime's work estimate
   * per second (GFLOP/s for matmul, attention and conv; 2 per byte moved for memory-bound ops). */
  format(): string {
    const rows = this.report(), total = rows.reduce((s, r) => s + r.ms, 0);
    const w = Math.max(40, ...rows.map((r) => r.kernel.length));
    const lines = [`${'kernel op'.padEnd(w)} ${'calls'.padStart(7)} ${'GPU ms'.padStart(10)} ${'%'.padStart(5)} ${'Gwork/s'.padStart(9)}`];
    for (const r of rows) {
      lines.push(`${r.kernel.padEnd(w)} ${String(r.calls).padStart(7)} ${r.ms.toFixed(2).padStart(10)} ${(total ? (100 * r.ms) / total : 0).toFixed(1).padStart(5)} ${(r.ms > 0 ? r.work / r.ms / 1e6 : 0).toFixed(2).padStart(9)}`);
    }
    lines.push(`${'total'.padEnd(w)} ${''.padStart(7)} ${total.toFixed(2).padStart(10)}`);
    return lines.join('\n');
  }
}
