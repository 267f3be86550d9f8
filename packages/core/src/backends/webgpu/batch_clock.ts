// GPU busy time of the work between two host waits, from two timestamp queries: the first compute
// pass after a wait writes the start, every pass writes the end (the last one recorded wins).
// The runtime sleeps through the predicted GPU time before it waits (dawn.node polls on the JS
// thread while a map is pending), and learns the speed from this clock: the wall time of a wait
// only bounds the GPU time from above when the sleep overshot, and the estimate learned from it
// drifted (see runtime.ts). Resolved after the last batch and read when the queue is idle, so it
// costs one tiny map per wait. Used where the device has `timestamp-query` (not while profiling,
// which takes every pass's timestamps).
export class BatchClock {
  private readonly querySet: GPUQuerySet;
  private readonly resolveBuffer: GPUBuffer;
  private readonly readBuffer: GPUBuffer;
  /** A pass wrote the start since the last read. */
  private started = false;
  /** Resolved and submitted: read() has a value to map. */
  private resolved = false;
  /** A read is mapping the buffer: reads that overlap it (several tensors awaited at once) and
   * resolves (which would copy into a buffer being mapped) stand aside. */
  private mapping = false;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2, label: 'batch clock' });
    this.resolveBuffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'batch clock resolve' });
    this.readBuffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'batch clock read' });
  }

  /** Timestamp writes for a new compute pass. */
  passWrites(): GPUComputePassTimestampWrites {
    const first = !this.started;
    this.started = true;
    return first
      ? { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 }
      : { querySet: this.querySet, endOfPassWriteIndex: 1 };
  }

  /** Submits the resolve of this interval's timestamps (after the last batch, before waiting). */
  resolve(): void {
    if (!this.started || this.resolved || this.mapping) return;
    const encoder = this.device.createCommandEncoder({ label: 'batch clock' });
    encoder.resolveQuerySet(this.querySet, 0, 2, this.resolveBuffer, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, 16);
    this.device.queue.submit([encoder.finish()]);
    this.resolved = true;
  }

  /** GPU ms from the first pass's start to the last pass's end since the previous read, or null
   * when no pass ran; call once the queue is idle. Starts the next interval. */
  async read(): Promise<number | null> {
    if (this.mapping) return null;
    if (!this.resolved) { this.started = false; return null; }
    this.mapping = true;
    let ms: number;
    try {
      await this.readBuffer.mapAsync(GPUMapMode.READ);
      const t = new BigInt64Array(this.readBuffer.getMappedRange(), 0, 2);
      ms = Number(t[1]! - t[0]!) / 1e6;
      this.readBuffer.unmap();
    } finally {
      this.mapping = false;
      this.started = false;
      this.resolved = false;
    }
    return Number.isFinite(ms) && ms >= 0 ? ms : null;
  }
}
