// The WebGPU runtime: allocation, uploads, recording dispatches into batched command buffers,
// pipelines, uniforms, read-back and error reporting. Kernels (ops/*.ts) only call this.
//
// Batching: dispatches are recorded into one command encoder (one compute pass) and submitted
// when a read/sync needs them or after MAX_BATCH dispatches. A storage freed while a batch is
// open is reusable by later kernels at once, but an upload into it first submits the batch:
// queue.writeBuffer would otherwise land *before* recorded commands that read the old contents.
import type { DType, HostArray } from '../../backend.ts';
import { decodeF16 } from '../../half.ts';
import { BufferPool } from './buffer_pool.ts';
import { isCpuEmulatedAdapter } from '../adapter.ts';
import type { AcquiredDevice } from './device.ts';
import { BatchClock } from './batch_clock.ts';
import { collectGarbage } from './collect_garbage.ts';
import { GpuProfiler } from './profile.ts';
import { shaderSource, specialise } from './shaders.ts';
import { GPUStorage, storageBytes } from './storage.ts';

/** Per-dispatch uniforms: 256 bytes (the strictest minUniformBufferOffsetAlignment). */
const UNIFORM_SLOT = 256;
const MAX_BATCH = 256;
/** Cached bind groups before the cache is dropped (each holds its buffers alive). */
const MAX_BIND_GROUPS = 8192;

interface PipelineEntry { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout; id: number }

/** Pipeline cache key: file, entry, text substitutions and override constants. */
function specKey(spec: KernelSpec): string {
  if (spec.generated) return `${spec.file}:${spec.entry}:generated:${spec.generated}`;
  let k = `${spec.file}:${spec.entry}`;
  const s = spec.subst, o = spec.overrides;
  if (s) for (const n in s) k += `:${n}=${s[n]}`;
  k += '|';
  if (o) for (const n in o) k += `:${n}=${o[n]}`;
  return k;
}

const F32_SCRATCH = new Float32Array(1);
const U32_OF_F32 = new Uint32Array(F32_SCRATCH.buffer);

/** Scalar kernel parameters, written in the order of the kernel's uniform struct fields, kept
 * as 32-bit words in a plain array (three typed arrays per op were a visible share of GC time
 * in chains of small ops). */
export class Params {
  readonly words: number[] = [];
  get n(): number { return this.words.length; }
  u(v: number): this { this.words.push(v >>> 0); return this; }
  i(v: number): this { this.words.push((v | 0) >>> 0); return this; }
  f(v: number): this { F32_SCRATCH[0] = v; this.words.push(U32_OF_F32[0]!); return this; }
}

/** A storage bound whole, or a byte window of it (for tensors over the binding limit). */
export type Binding = GPUStorage | { s: GPUStorage; offset: number; size: number };

export interface KernelSpec {
  /** shaders/<file>.wgsl */
  file: string;
  entry: string;
  /** Text specialisation (alias/const), see shaders.ts. */
  subst?: Readonly<Record<string, string>>;
  /** Pipeline-overridable constants. */
  overrides?: Readonly<Record<string, number>>;
  /** Complete generated source (fusion.ts), used instead of the file; `file` names it. */
  generated?: string;
}

/** The work estimate (flop-equivalents, the unit of `dispatch`'s `work`) of moving `bytes`
 * through a memory-bound kernel: 2 per byte, see `memoryWork`. */
export const workOfBytes = (bytes: number): number => 2 * bytes;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WebGPURuntime {
  readonly device: GPUDevice;
  readonly maxBinding: number;
  readonly maxWorkgroupsPerDim: number;
  /** Smallest offset alignment for binding windows. */
  readonly bindAlign: number;
  /** Storage buffers one kernel may bind (fused kernels size their operand count by it). */
  readonly maxStorageBuffers: number;
  private pool: BufferPool;
  private staging: BufferPool;
  private pipelines = new Map<string, PipelineEntry>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  /** The pipeline last set on the open pass (setPipeline is skipped when it repeats). */
  private passPipeline: GPUComputePipeline | null = null;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private uniformBuffer: GPUBuffer;
  private uniformStaging = new Uint32Array((MAX_BATCH * UNIFORM_SLOT) / 4);
  /** Buffers freed while the current batch was open (see upload). */
  private freedInBatch = new Set<GPUBuffer>();
  private batchOps: string[] = [];
  private pendingErrors: Promise<Error | null>[] = [];
  /** Device loss: every later call fails. */
  private fatal: Error | null = null;
  /** A validation/out-of-memory error of a submitted batch: thrown once, by the next call. */
  private reported: Error | null = null;
  /** Work submitted or recorded since the queue was last known idle, and the learned speed
   * (ms per unit of work) used to sleep through most of it before waiting on the GPU. */
  private pendingWork = 0;
  private msPerWork: number;
  /** Dispatches since the last wait, and the learned fixed GPU cost of one (a software adapter
   * spends tens of µs per dispatch however small it is; a chain of small ops is all that). */
  private pendingDispatches = 0;
  private msPerDispatch = 0.005;
  /** Storages not freed yet (pending ones included). */
  liveStorages = 0;
  /** Bytes of buffers out of the pool: live storages, and freed ones a pending expression still reads. */
  liveBytes = 0;
  /** Bind groups cached at most (then the cache is dropped and collected); tests lower it. */
  maxBindGroups = MAX_BIND_GROUPS;
  /** Times the bind-group cache was dropped and garbage-collected. */
  bindGroupCollections = 0;
  /** Dispatches recorded since creation (for tests and benches). */
  totalDispatches = 0;
  /** Dispatches recorded since creation per kernel, keyed `file:entry` (e.g. 'matmul:matmul'). */
  readonly dispatchesByKernel = new Map<string, number>();
  /** A CPU implementation (lavapipe, SwiftShader): invocations are SIMD lanes of CPU threads. */
  readonly software: boolean;
  /** How row kernels (softmax, normalize, cross-entropy) map rows: a workgroup per row, an
   * invocation per row, or by adapter and shape ('auto'; see rowsPerInvocation). */
  rowKernels: 'auto' | 'workgroup' | 'invocation' = 'auto';
  /** GPU time per kernel, when the device was acquired with `profile` (profile.ts). */
  readonly profiler: GpuProfiler | null;
  /** GPU busy time per wait, where the device has timestamp queries and no profiler runs. */
  private readonly clock: BatchClock | null;

  constructor(readonly acquired: AcquiredDevice) {
    const device = acquired.device;
    this.device = device;
    this.maxBinding = acquired.maxBinding;
    this.maxWorkgroupsPerDim = device.limits.maxComputeWorkgroupsPerDimension;
    this.bindAlign = Math.max(256, device.limits.minStorageBufferOffsetAlignment);
    this.maxStorageBuffers = device.limits.maxStorageBuffersPerShaderStage;
    // A batch is submitted (and its timestamps resolved) by MAX_BATCH dispatches at the latest.
    this.profiler = acquired.timestamps && acquired.profile ? new GpuProfiler(device, MAX_BATCH) : null;
    this.clock = acquired.timestamps && !acquired.profile ? new BatchClock(device) : null;
    // First guess of the speed, refined by every wait: a software adapter (lavapipe here ran
    // 15-25 G work units/s on a training step) or a GPU (assume 1000 G/s: an overestimate of
    // the speed only makes the first waits poll longer, an underestimate makes them sleep).
    this.software = isCpuEmulatedAdapter(acquired.info);
    this.msPerWork = this.software ? 1 / 1e7 : 1 / 1e9;
    this.pool = new BufferPool(device, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'storage');
    this.staging = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'staging');
    this.uniformBuffer = device.createBuffer({
      size: MAX_BATCH * UNIFORM_SLOT, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniforms',
    });
    device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.fatal = new Error(`WebGPU device lost (${info.reason}): ${info.message}`);
    });
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      this.reported ??= new Error(`WebGPU error: ${e.message}`);
    });
  }

  // --- memory ---------------------------------------------------------------------------

  alloc(size: number, dtype: DType): GPUStorage {
    this.check();
    const bytes = Math.max(storageBytes(size, dtype), 4);
    if (bytes > this.device.limits.maxBufferSize) {
      throw new Error(`webgpu: ${size} elements (${bytes} bytes) exceed maxBufferSize ${this.device.limits.maxBufferSize}`);
    }
    const { buffer, capacity } = this.pool.acquire(bytes);
    this.liveStorages++;
    this.liveBytes += capacity;
    return new GPUStorage(dtype, size, buffer, capacity);
  }

  /** The owner is done with s. Its buffer goes back to the pool unless a pending expression
   * still reads it (then when the last one is computed or dropped, see fusion.ts); a pending
   * storage's own buffer was never written, so it goes back at once. */
  free(s: GPUStorage): void {
    if (s.freed) return;
    s.freed = true;
    this.liveStorages--;
    if (s.users === 0 || s.pending) this.release(s);
  }

  /** Returns the buffer of a freed storage to the pool; liveBytes counts it until then. */
  release(s: GPUStorage): void {
    if (s.released) return;
    s.released = true;
    this.liveBytes -= s.capacity;
    // Back to the pool at once: later kernels of this batch may reuse it (command order keeps
    // that safe). Only an upload must not, see upload().
    this.pool.release(s.buffer, s.capacity);
    if (this.encoder) this.freedInBatch.add(s.buffer);
  }

  /** Gives a freed pending storage (its buffer went back to the pool unwritten) a buffer
   * again, for fusion.ts to compute it on its own; released when its last reader is done. */
  rebuffer(s: GPUStorage): void {
    const { buffer, capacity } = this.pool.acquire(Math.max(s.size, 1) * 4);
    s.buffer = buffer;
    s.capacity = capacity;
    s.released = false;
    this.liveBytes += capacity;
  }

  get pooledBytes(): number { return this.pool.pooledBytes; }

  /** Kernels may bind float16 storages as array<f16> (the device has `shader-f16`). */
  get hasF16(): boolean { return this.acquired.hasF16; }

  /** Uploads host data; a Uint16Array is float16 bits (padded to a whole word). */
  upload(data: HostArray): GPUStorage {
    const s = this.alloc(data.length, data instanceof Int32Array ? 'int32' : data instanceof Uint16Array ? 'float16' : 'float32');
    if (data instanceof Uint16Array && data.length % 2 === 1) {
      const padded = new Uint16Array(data.length + 1);
      padded.set(data);
      data = padded; // writeBuffer sizes are multiples of 4 bytes
    }
    // queue.writeBuffer runs before the open batch is submitted: into a buffer that batch still
    // reads (freed and recycled within it), it would clobber the old contents. Submit first.
    if (this.freedInBatch.has(s.buffer)) this.flush();
    if (data.length > 0) this.device.queue.writeBuffer(s.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return s;
  }

  /** Zero-fills a storage in command order. */
  clear(s: GPUStorage): void {
    this.endPass();
    this.begin().clearBuffer(s.buffer, 0, s.capacity);
  }

  copy(src: GPUStorage, srcOffsetBytes: number, dst: GPUStorage, dstOffsetBytes: number, bytes: number): void {
    this.endPass();
    this.begin().copyBufferToBuffer(src.buffer, srcOffsetBytes, dst.buffer, dstOffsetBytes, bytes);
  }

  // --- pipelines and dispatch -------------------------------------------------------------

  /** The pipeline of `spec` (cached by a cheap string key) and its bind group layout. */
  private pipelineFor(spec: KernelSpec): PipelineEntry {
    const key = specKey(spec);
    let p = this.pipelines.get(key);
    if (p) return p;
    this.begin(); // inside the batch's error scope, so a compile error names this batch
    let code = spec.generated ?? shaderSource(spec.file);
    if (spec.subst) code = specialise(code, spec.subst);
    const module = this.device.createShaderModule({ code, label: `${spec.file}.wgsl` });
    const compute: GPUProgrammableStage = { module, entryPoint: spec.entry };
    if (spec.overrides) compute.constants = { ...spec.overrides };
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute, label: `${spec.file}:${spec.entry}` });
    p = { pipeline, layout: pipeline.getBindGroupLayout(0), id: this.pipelines.size };
    this.pipelines.set(key, p);
    return p;
  }

  /** Empties the bind-group cache and collects the dropped groups at once (collect_garbage.ts:
   * on lavapipe each live one holds a memory mapping, and the process has 65,530). */
  private dropBindGroups(): void {
    this.bindGroups.clear();
    collectGarbage();
    this.bindGroupCollections++;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, id = this.nextBufferId++);
    return id;
  }

  /** Records one dispatch. bindings[i] goes to @binding(i + 1) (0 is the uniforms); `label`
   * names the op and its shapes for error messages. */
  dispatch(spec: KernelSpec, params: Params, bindings: readonly (Binding | null)[], groups: readonly [number, number?, number?], label: string,
    /** Rough cost in flops, for read()'s wait estimate (default: the invocation count). */
    work?: number): void {
    this.check();
    const gx = groups[0], gy = groups[1] ?? 1, gz = groups[2] ?? 1;
    const w = work ?? this.memoryWork(bindings, gx * gy * gz, label);
    this.pendingWork += w;
    this.pendingDispatches++;
    const p = this.pipelineFor(spec);
    const slot = this.dispatches;
    const words = params.words, at = (slot * UNIFORM_SLOT) / 4;
    if (words.length > UNIFORM_SLOT / 4) throw new Error(`webgpu ${label}: ${words.length} parameter words exceed the ${UNIFORM_SLOT}-byte uniform slot`);
    for (let i = 0; i < words.length; i++) this.uniformStaging[at + i] = words[i]!;
    // createBindGroup costs ~40 µs on Dawn here, more than the rest of a small op. Bind groups
    // are cached by pipeline, uniform slot and (buffer, offset, size) of every binding: pooled
    // buffers are long-lived and a loop (a training step, a chain of ops) starts its batches
    // at slot 0 after each read, so it records the same dispatches with the same buffers again.
    // (A dynamic offset for the uniform slot would key on buffers alone, but Dawn + lavapipe
    // ran such dispatches ~3x slower on the GPU side.)
    let key = `${p.id}@${slot}`;
    for (let i = 0; i < bindings.length; i++) {
      const b = bindings[i];
      if (!b) continue;
      if (b instanceof GPUStorage) key += `|${this.bufferId(b.buffer)}:0:${this.wholeBindingSize(b, label)}`;
      else key += `|${this.bufferId(b.s.buffer)}:${b.offset}:${b.size}`;
    }
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniformBuffer, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT } }];
      for (let i = 0; i < bindings.length; i++) {
        const b = bindings[i];
        if (!b) continue; // binding number unused by this entry point
        const resource: GPUBufferBinding = b instanceof GPUStorage
          ? { buffer: b.buffer, offset: 0, size: this.wholeBindingSize(b, label) }
          : { buffer: b.s.buffer, offset: b.offset, size: b.size };
        entries.push({ binding: i + 1, resource });
      }
      if (this.bindGroups.size >= this.maxBindGroups) this.dropBindGroups();
      bindGroup = this.device.createBindGroup({ layout: p.layout, entries, label });
      this.bindGroups.set(key, bindGroup);
    }
    const kernel = `${spec.file}:${spec.entry}`;
    const pass = this.profiler ? this.timedPass(kernel, label, w) : this.beginPass();
    if (this.passPipeline !== p.pipeline) { pass.setPipeline(p.pipeline); this.passPipeline = p.pipeline; }
    pass.setBindGroup(0, bindGroup);
    if (gx > 0 && gy > 0 && gz > 0) pass.dispatchWorkgroups(gx, gy, gz);
    if (this.profiler) this.endPass();
    this.batchOps.push(label);
    this.dispatches++;
    this.totalDispatches++;
    this.dispatchesByKernel.set(kernel, (this.dispatchesByKernel.get(kernel) ?? 0) + 1);
    if (this.dispatches >= MAX_BATCH) this.flush();
  }

  /** Work estimate of a dispatch that gave none: a memory-bound kernel that reads or writes its
   * bindings once. Counted as 2 flop-equivalents per byte (lavapipe here moves ~1 byte per 2
   * matmul flops), at least 64 per workgroup. Without it, a layer norm over 15 MB predicted
   * ~0 ms, so the read slept 1 ms and dawn.node then polled on the JS thread for the 40 ms the
   * kernel took, taking a core from lavapipe. Ops binding much more than they touch (gathers
   * from a table, scatters into one) pass their own estimate. */
  private memoryWork(bindings: readonly (Binding | null)[], workgroups: number, label: string): number {
    let bytes = 0;
    for (const b of bindings) {
      if (!b) continue;
      bytes += b instanceof GPUStorage ? this.wholeBindingSize(b, label) : b.size;
    }
    return Math.max(workgroups * 64, workOfBytes(bytes));
  }

  /** Whether a row kernel over [rows, cols] runs one invocation per row. On a software adapter
   * that avoids the workgroup tree reduction (~5 µs a row there; layer norm [1024,64] 16x
   * faster, [4096,896] 2x), unless a few long rows would leave most lanes idle. GPUs keep the
   * coalesced workgroup-per-row kernels. */
  rowsPerInvocation(rows: number, cols: number): boolean {
    if (this.rowKernels !== 'auto') return this.rowKernels === 'invocation';
    return this.software && (rows >= 128 || cols <= 1024);
  }

  /** Workgroup counts for `n` invocations of a 1-D kernel with `wg` lanes, split over x and y
   * when one dimension's 65535 limit is too small. Kernels rebuild i = x + y * nx * wg. */
  grid1D(n: number, wg: number): [number, number] {
    const groups = Math.ceil(n / wg);
    if (groups <= this.maxWorkgroupsPerDim) return [groups, 1];
    const y = Math.ceil(groups / this.maxWorkgroupsPerDim);
    return [Math.ceil(groups / y), y];
  }

  private wholeBindingSize(s: GPUStorage, label: string): number {
    const size = Math.max(16, Math.ceil(s.bytes / 16) * 16);
    if (size > this.maxBinding) {
      throw new Error(`webgpu ${label}: a ${s.bytes}-byte operand exceeds maxStorageBufferBindingSize ${this.maxBinding}; `
        + 'this op has no chunked path for tensors that large');
    }
    return size;
  }

  private begin(): GPUCommandEncoder {
    if (!this.encoder) {
      this.device.pushErrorScope('out-of-memory');
      this.device.pushErrorScope('validation');
      this.encoder = this.device.createCommandEncoder({ label: 'reconvla batch' });
    }
    return this.encoder;
  }

  private beginPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.begin().beginComputePass(this.clock ? { timestampWrites: this.clock.passWrites() } : undefined);
    return this.pass;
  }

  /** A pass of its own for one profiled dispatch, with begin/end timestamps. */
  private timedPass(kernel: string, label: string, work: number): GPUComputePassEncoder {
    this.endPass();
    this.pass = this.begin().beginComputePass({ timestampWrites: this.profiler!.passWrites(kernel, label, work) });
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) { this.pass.end(); this.pass = null; this.passPipeline = null; }
  }

  /** Submits the open batch, if any. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.dispatches > 0) {
      this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformStaging.buffer, 0, this.dispatches * UNIFORM_SLOT);
    }
    this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    if (this.firstSubmitAt === null) this.firstSubmitAt = performance.now();
    const ops = this.batchOps;
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    this.pendingErrors.push(Promise.all([validation, oom]).then(([v, o]) => {
      const e = v ?? o;
      if (!e) return null;
      return new Error(`WebGPU ${e === o ? 'out-of-memory' : 'validation'} error in a batch of ops [${summariseOps(ops)}]: ${e.message}`);
    }));
    this.encoder = null;
    this.dispatches = 0;
    this.batchOps = [];
    this.freedInBatch.clear();
  }

  // --- host synchronisation ----------------------------------------------------------------

  async read(s: GPUStorage): Promise<Float32Array | Int32Array> {
    this.check();
    const bytes = s.bytes;
    if (bytes === 0) { this.flush(); await this.drainErrors(); return s.dtype === 'int32' ? new Int32Array(0) : new Float32Array(0); }
    const { buffer: stage, capacity } = this.staging.acquire(bytes);
    this.endPass();
    this.begin().copyBufferToBuffer(s.buffer, 0, stage, 0, bytes);
    this.flush();
    try {
      await this.waitIdleish();
      await stage.mapAsync(GPUMapMode.READ, 0, bytes);
      await this.learn();
      const copy = stage.getMappedRange(0, bytes).slice(0);
      stage.unmap();
      this.staging.release(stage, capacity);
      await this.profiler?.collect();
      await this.drainErrors();
      if (s.dtype === 'float16') return decodeF16(new Uint16Array(copy, 0, s.size));
      return s.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
    } catch (e) {
      await this.drainErrors();
      this.check();
      throw e;
    }
  }

  async sync(): Promise<void> {
    this.check();
    this.flush();
    await this.waitIdleish();
    await this.device.queue.onSubmittedWorkDone();
    await this.learn();
    await this.profiler?.collect();
    await this.drainErrors();
  }

  private waitStart = 0;
  private waitPredictedMs = 0;
  private wokeAt = 0;
  /** When the first batch since the last wait was submitted (the GPU started then). */
  private firstSubmitAt: number | null = null;
  /** RECONVLA_DEBUG=webgpu-wait: print every wait's prediction and outcome. */
  private readonly debugWaits = (process.env.RECONVLA_DEBUG ?? '').split(',').includes('webgpu-wait');

  /** While a map or onSubmittedWorkDone is pending, dawn.node polls on the JS thread and takes
   * a core from a software GPU. So first sleep on a timer until the predicted end of the GPU
   * work (work since the last wait times the learned speed, counted from the first submit), then
   * wait for the rest. */
  private async waitIdleish(): Promise<void> {
    this.clock?.resolve();
    this.waitStart = performance.now();
    this.waitPredictedMs = this.pendingWork * this.msPerWork + this.pendingDispatches * this.msPerDispatch;
    const started = this.firstSubmitAt ?? this.waitStart;
    // Short batches jitter by ~20% on a software GPU, and waking before the end costs more than
    // waking after it (the poll takes a core from the GPU it waits for): wake up to 15% late on
    // short waits, on time on long ones (where a step's latency matters and jitter is smaller).
    const late = this.software ? 0.15 * Math.min(1, Math.max(0, (100 - this.waitPredictedMs) / 100)) : 0;
    await sleep(Math.max(1, started + (1 + late) * this.waitPredictedMs - this.waitStart));
    this.wokeAt = performance.now();
  }

  /** Updates the speed estimate from the wait that just ended; the queue is now idle. */
  private async learn(): Promise<void> {
    const now = performance.now();
    const elapsed = now - (this.firstSubmitAt ?? this.waitStart);
    // With timestamp queries, the GPU's own span of the work since the last wait (BatchClock).
    // Without, the wall time from the first submit: when the queue was already idle as the sleep
    // ended, that only bounds the GPU time from above, and learning from it kept the sleep too
    // long (it shrank ~6% a step: a small-GPT step slept 3.7 s for ~1.2 s of work), so the
    // estimate shrinks by 5% instead; woken early, the wall time is a slight overestimate (the
    // rest ran while dawn.node polled), which keeps the estimate around the GPU time, not below.
    const clockMs = this.clock ? await this.clock.read() : null;
    const overslept = clockMs === null && now - this.wokeAt < 1 && this.waitPredictedMs > 2;
    const gpuMs = clockMs ?? elapsed;
    if (this.debugWaits) {
      process.stderr.write(`reconvla webgpu wait: predicted ${this.waitPredictedMs.toFixed(1)} ms, took ${elapsed.toFixed(1)} ms from the first submit `
        + `(${(now - this.wokeAt).toFixed(1)} ms after the sleep), GPU clock ${clockMs === null ? '-' : `${clockMs.toFixed(1)} ms`}, `
        + `work ${this.pendingWork.toExponential(2)}, ${this.pendingDispatches} dispatches\n`);
    }
    const rate = clockMs === null ? 0.3 : 0.5;
    // Learn only from big batches (small ones are dominated by fixed costs and timer slack),
    // and keep the estimate between 1 GFLOP/s and 100 TFLOP/s so one odd wait cannot make
    // the next read sleep for seconds.
    if (this.pendingWork >= 5e7 && gpuMs > 2) {
      const observed = gpuMs / this.pendingWork;
      this.msPerWork = Math.min(1e-6, Math.max(1e-11, overslept ? 0.95 * this.msPerWork : (1 - rate) * this.msPerWork + rate * observed));
    }
    // Many dispatches with little work: learn the per-dispatch cost.
    if (this.pendingWork < 5e7 && this.pendingDispatches >= 64) {
      const observed = gpuMs / this.pendingDispatches;
      this.msPerDispatch = Math.min(0.1, Math.max(0, overslept ? 0.95 * this.msPerDispatch : (1 - rate) * this.msPerDispatch + rate * observed));
    }
    this.pendingWork = 0;
    this.pendingDispatches = 0;
    this.firstSubmitAt = null;
  }

  private async drainErrors(): Promise<void> {
    const pending = this.pendingErrors;
    this.pendingErrors = [];
    for (const p of pending) {
      const e = await p;
      this.reported ??= e;
    }
    this.check();
  }

  /** Throws device loss, or (once) the first error the device reported, with the ops of its batch. */
  check(): void {
    if (this.fatal) throw this.fatal;
    const e = this.reported;
    if (e) { this.reported = null; throw e; }
  }

  destroy(): void {
    this.flush();
    this.bindGroups.clear(); // they reference the buffers trim() destroys
    this.pool.trim();
    this.staging.trim();
    this.device.destroy();
  }
}

function summariseOps(ops: string[]): string {
  if (ops.length <= 12) return ops.join(', ');
  return `${ops.slice(0, 6).join(', ')}, ... ${ops.length - 12} more ..., ${ops.slice(-6).join(', ')}`;
}
