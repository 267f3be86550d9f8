// A pool of worker threads that run kernel calls on the shared memory. Each worker owns a slot
// in the control block at the bottom of memory: a sequence number it sleeps on
// (Atomics.wait), a done word the main thread sleeps on, and a command buffer of float64s
// listing calls as (function id, argument count, arguments...). Waking a sleeping worker costs
// about a microsecond, against tens for a postMessage round trip. Compiled modules reach the
// workers by postMessage on a port the worker drains synchronously (receiveMessageOnPort)
// when it meets a function id it has not instantiated yet.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { RESERVED } from './memory.ts';
import type { WasmMemory, WasmModule } from './webassembly.ts';

/** One call of an exported kernel function; arguments are i32 addresses/sizes or f32 scalars. */
export interface KernelCall { fn: number; args: number[] }

const SLOT = 32768; // bytes per worker slot
const HEADER = 64; // seq, done, error words; the commands start after
export const MAX_WORKERS = RESERVED / SLOT - 1;
const CMD_CAPACITY = (SLOT - HEADER) / 8;
/** Polling iterations (~10 ns each) before a worker sleeps. */
const SPIN = Number(process.env.RECONVLA_WASM_SPIN ?? 20000);

// Plain JS (no TypeScript loader needed in the worker).
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { memory, base, port } = workerData;
const ctl = new Int32Array(memory.buffer, base, 4);
const cmd = new Float64Array(memory.buffer, base + ${HEADER}, ${CMD_CAPACITY});
const fns = [];
function load(id) {
  while (fns[id] === undefined) {
    const m = receiveMessageOnPort(port);
    if (!m) throw new Error('wasm worker: kernel ' + id + ' was never sent');
    const inst = new WebAssembly.Instance(m.message.module, { env: { memory, log: Math.log, exp: Math.exp } });
    for (const [fid, name] of m.message.fns) fns[fid] = inst.exports[name];
  }
  return fns[id];
}
let seen = 0;
for (;;) {
  // Poll a little before sleeping: kernels usually come back to back, and a futex wake-up
  // costs far more than a few microseconds of polling.
  for (let i = 0; i < ${SPIN} && Atomics.load(ctl, 0) === seen; i++);
  Atomics.wait(ctl, 0, seen);
  const seq = Atomics.load(ctl, 0);
  if (seq === seen) continue;
  seen = seq;
  const n = cmd[0];
  if (n < 0) break;
  let error = 0;
  try {
    let p = 1;
    for (let c = 0; c < n; c++) {
      const fn = fns[cmd[p]] ?? load(cmd[p]), argc = cmd[p + 1], a = p + 2;
      fn(...cmd.subarray(a, a + argc));
      p = a + argc;
    }
  } catch (e) {
    error = 1;
    port.postMessage(String(e && e.stack || e));
  }
  Atomics.store(ctl, 2, error);
  Atomics.store(ctl, 1, seq);
  Atomics.notify(ctl, 1);
}
`;

interface PoolWorker { worker: Worker; port: MessagePort; ctl: Int32Array; cmd: Float64Array; seq: number }

export class WorkerPool {
  private readonly workers: PoolWorker[] = [];

  /** `threads` counts the main thread, so threads - 1 workers are started. */
  constructor(private readonly memory: WasmMemory, readonly threads: number) {
    const n = Math.min(threads - 1, MAX_WORKERS);
    for (let w = 0; w < n; w++) {
      const base = (w + 1) * SLOT;
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { memory, base, port: port2 }, transferList: [port2] });
      worker.unref();
      port1.unref();
      this.workers.push({ worker, port: port1, ctl: new Int32Array(memory.buffer, base, 4), cmd: new Float64Array(memory.buffer, base + HEADER, CMD_CAPACITY), seq: 0 });
    }
  }

  /** Makes a compiled module's functions (global id -> export name) callable on every worker. */
  register(module: WasmModule, fns: Array<[number, string]>): void {
    for (const w of this.workers) w.port.postMessage({ module, fns });
  }

  /** Runs lists[0] on the calling thread and lists[t] on worker t-1, and waits for all of them.
   * Lists too long for a command buffer run in several rounds. */
  run(lists: KernelCall[][], local: (call: KernelCall) => void): void {
    const pending = lists.map(() => 0);
    for (;;) {
      const started: PoolWorker[] = [];
      for (let t = 1; t < lists.length; t++) {
        const list = lists[t]!, w = this.workers[t - 1]!;
        if (pending[t]! >= list.length) continue;
        let p = 1, c = pending[t]!;
        for (; c < list.length; c++) {
          const call = list[c]!;
          if (p + 2 + call.args.length > CMD_CAPACITY) break;
          w.cmd[p] = call.fn; w.cmd[p + 1] = call.args.length;
          for (let i = 0; i < call.args.length; i++) w.cmd[p + 2 + i] = call.args[i]!;
          p += 2 + call.args.length;
        }
        w.cmd[0] = c - pending[t]!;
        pending[t] = c;
        w.seq = (w.seq + 1) | 0;
        Atomics.store(w.ctl, 0, w.seq);
        Atomics.notify(w.ctl, 0);
        started.push(w);
      }
      let mainError: unknown;
      try {
        for (const call of lists[0] ?? []) local(call);
      } catch (e) { mainError = e; }
      if (lists[0]) pending[0] = lists[0].length;
      for (const w of started) this.wait(w);
      if (mainError) throw mainError;
      if (lists.every((l, t) => pending[t]! >= l.length)) return;
      lists = lists.map((l, t) => (t === 0 ? [] : l));
    }
  }

  private wait(w: PoolWorker): void {
    // Spin briefly (the work is usually balanced), then sleep.
    for (let i = 0; i < 2000 && Atomics.load(w.ctl, 1) !== w.seq; i++);
    while (Atomics.load(w.ctl, 1) !== w.seq) Atomics.wait(w.ctl, 1, Atomics.load(w.ctl, 1), 1000);
    if (Atomics.load(w.ctl, 2) !== 0) {
      const m = receiveMessageOnPort(w.port);
      throw new Error(`wasm worker kernel failed: ${m ? String(m.message) : 'unknown error'}`);
    }
  }

  /** Stops the workers (they exit their loop at the next wake-up). */
  close(): void {
    for (const w of this.workers) {
      w.cmd[0] = -1;
      w.seq = (w.seq + 1) | 0;
      Atomics.store(w.ctl, 0, w.seq);
      Atomics.notify(w.ctl, 0);
    }
    this.workers.length = 0;
  }
}
