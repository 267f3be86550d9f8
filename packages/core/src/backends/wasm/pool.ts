// A pool of worker threads that run kernel calls on the shared memory. Each worker owns a slot
// in the control block at the bottom of memory: a sequence number it sleeps on
// (Atomics.wait), a done word the main thread sleeps on, and a command buffer of float64s
// listing calls as (function id, argument count, arguments...). Waking a sleeping worker costs
// about a microsecond, against tens for a postMessage round trip. Compiled modules reach the
// workers by postMessage on a port the worker drains synchronously (receiveMessageOnPort)
// when it meets a function id it has not instantiated yet.
//
// Workers are started by a small supervisor thread, not by the main thread: the main thread
// blocks in Atomics.wait while a kernel runs, so it can never see a worker's 'exit' event. The
// supervisor's event loop is free; when a worker dies outright (process.exit, an uncaught error,
// running out of heap) it marks the slot dead and completes its done word, so the waiting call
// throws an error naming the kernel, and the pool starts a replacement worker.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { RESERVED } from './memory.ts';
import type { WasmMemory, WasmModule } from './webassembly.ts';

/** One call of an exported kernel function; arguments are i32 addresses/sizes or f32 scalars. */
export interface KernelCall { fn: number; args: number[] }

const SLOT = 32768; // bytes per worker slot; slot 0 is the supervisor's
const HEADER = 64; // control words (below); the commands start after
export const MAX_WORKERS = RESERVED / SLOT - 1;
const CMD_CAPACITY = (SLOT - HEADER) / 8;
/** Polling iterations (~10 ns each) before a worker sleeps. */
const SPIN = Number(process.env.RECONVLA_WASM_SPIN ?? 20000);
/** Worker JS heap limit: kernels work on the shared memory, the JS side only decodes commands. */
const WORKER_HEAP_MB = 64;

// Control words of a worker slot (Int32 indices).
const SEQ = 0, DONE = 1, ERROR = 2, DEAD = 3, EXIT_CODE = 4, CURRENT = 5, TEST_DIE = 6;
// OPEN holds the sequence number of a posted command list nobody has taken yet. The worker takes
// it (compare-exchange OPEN: seq -> 0) before running it; the main thread, once its own list is
// done, takes any list still open and runs it itself. Why: on a machine with more runnable
// threads than cores (this one is shared), a worker woken for a small kernel may not be
// scheduled for a whole time slice (milliseconds), and a fork-join step with ~200 pooled
// launches then waits on descheduled workers most of the time. A list is run by exactly one
// thread, so results do not depend on who ran it.
const OPEN = 7;
// ERROR values: a kernel threw (a trap; the worker lives on), or the worker died.
const ERROR_THREW = 1, ERROR_DIED = 2;
// Supervisor slot words: a heartbeat it bumps every HEARTBEAT_MS, and the closing flag.
const BEAT = 0, CLOSING = 1;
const HEARTBEAT_MS = 50;
/** The main thread re-checks the dead flag and the heartbeat this often while it waits. */
const WAIT_SLICE_MS = 100;
/** A supervisor silent for this long is taken as gone (its timer fires every 50 ms). */
const SUPERVISOR_SILENCE_MS = 20_000;

/** Test-only ways to make a worker die at its next kernel call. */
export type WorkerDeath = 'exit' | 'throw' | 'oom';
const DEATHS: WorkerDeath[] = ['exit', 'throw', 'oom'];

// Plain JS (no TypeScript loader needed in the worker).
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { memory, base, port } = workerData;
const ctl = new Int32Array(memory.buffer, base, 8);
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
function die(how) {
  // Test hook (WorkerPool.testDieAtNextCall): die outside any try, as a real crash would.
  Atomics.store(ctl, ${TEST_DIE}, 0);
  if (how === 1) process.exit(7);
  if (how === 2) throw new Error('test hook: uncaught error in a wasm worker');
  const hog = [];
  for (;;) hog.push(new Array(1 << 16).fill(hog.length));
}
let seen = 0;
for (;;) {
  // Poll a little before sleeping: kernels usually come back to back, and a futex wake-up
  // costs far more than a few microseconds of polling.
  for (let i = 0; i < ${SPIN} && Atomics.load(ctl, ${SEQ}) === seen; i++);
  Atomics.wait(ctl, ${SEQ}, seen);
  const seq = Atomics.load(ctl, ${SEQ});
  if (seq === seen) continue;
  seen = seq;
  // Taken by the main thread already (it ran the list itself): nothing to do, nothing to report.
  if (Atomics.compareExchange(ctl, ${OPEN}, seq, 0) !== seq) continue;
  const n = cmd[0];
  if (n < 0) break;
  const how = Atomics.load(ctl, ${TEST_DIE});
  if (how !== 0) die(how);
  let error = 0;
  try {
    let p = 1;
    for (let c = 0; c < n; c++) {
      ctl[${CURRENT}] = c;
      const fn = fns[cmd[p]] ?? load(cmd[p]), argc = cmd[p + 1], a = p + 2;
      fn(...cmd.subarray(a, a + argc));
      p = a + argc;
    }
  } catch (e) {
    error = ${ERROR_THREW};
    port.postMessage(String(e && e.stack || e));
  }
  Atomics.store(ctl, ${ERROR}, error);
  Atomics.store(ctl, ${DONE}, seq);
  Atomics.notify(ctl, ${DONE});
}
`;

// The supervisor: starts workers on request and turns a worker's exit into a completed, failed
// call. It also beats a heartbeat so the main thread can tell it is still there.
const SUPERVISOR_SOURCE = `
const { workerData, parentPort, Worker } = require('node:worker_threads');
const { memory, source, reports } = workerData;
const sup = new Int32Array(memory.buffer, 0, 8);
setInterval(() => Atomics.add(sup, ${BEAT}, 1), ${HEARTBEAT_MS});
parentPort.on('message', ({ base, port, slot }) => {
  const ctl = new Int32Array(memory.buffer, base, 8);
  let lastError = '';
  const w = new Worker(source, { eval: true, workerData: { memory, base, port }, transferList: [port],
    resourceLimits: { maxOldGenerationSizeMb: ${WORKER_HEAP_MB} } });
  w.on('error', (e) => { lastError = e instanceof Error ? (e.code ? e.code + ' ' : '') + e.name + ': ' + e.message : String(e); });
  w.on('exit', (code) => {
    if (Atomics.load(sup, ${CLOSING})) return;
    reports.postMessage({ slot, code, error: lastError });
    Atomics.store(ctl, ${EXIT_CODE}, code);
    Atomics.store(ctl, ${ERROR}, ${ERROR_DIED});
    // Complete whatever call the main thread posted last, so its wait ends; DEAD goes last
    // (the main thread restarts the slot once it sees it, so nothing may be stored after it).
    Atomics.store(ctl, ${DONE}, Atomics.load(ctl, ${SEQ}));
    Atomics.notify(ctl, ${DONE});
    Atomics.store(ctl, ${DEAD}, 1);
    Atomics.notify(ctl, ${DEAD});
  });
});
`;

/** The next sequence number: never 0, which OPEN uses for "taken". */
const nextSeq = (seq: number): number => ((seq + 1) | 0) || 1;

interface PoolWorker { slot: number; port: MessagePort; ctl: Int32Array; cmd: Float64Array; seq: number; sent: KernelCall[] }

export class WorkerPool {
  private readonly workers: PoolWorker[] = [];
  private readonly supervisor: Worker | undefined;
  /** Where the supervisor reports worker exits (read synchronously with receiveMessageOnPort). */
  private readonly reports: MessagePort | undefined;
  private readonly sup: Int32Array;
  /** Every registered module, re-sent to a replacement worker. */
  private readonly modules: Array<{ module: WasmModule; fns: Array<[number, string]> }> = [];
  /** Workers started to replace ones that died. */
  restarts = 0;
  /** Worker lists the main thread ran itself because their worker had not started them. */
  taken = 0;

  /** `threads` counts the main thread, so threads - 1 workers are started. `nameOf` names a
   * kernel function id in error messages. */
  constructor(private readonly memory: WasmMemory, readonly threads: number, private readonly nameOf: (fn: number) => string = String) {
    const n = Math.min(threads - 1, MAX_WORKERS);
    this.sup = new Int32Array(memory.buffer, 0, 8);
    if (n === 0) return;
    Atomics.store(this.sup, CLOSING, 0);
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    this.reports = port1;
    this.supervisor = new Worker(SUPERVISOR_SOURCE, { eval: true, workerData: { memory, source: WORKER_SOURCE, reports: port2 }, transferList: [port2] });
    this.supervisor.unref();
    for (let w = 0; w < n; w++) this.workers.push(this.start(w + 1));
  }

  /** Starts (or restarts) the worker of `slot` with fresh control words and every module so far. */
  private start(slot: number): PoolWorker {
    const base = slot * SLOT;
    const ctl = new Int32Array(this.memory.buffer, base, 8);
    ctl.fill(0);
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    for (const m of this.modules) port1.postMessage(m);
    this.supervisor!.postMessage({ base, port: port2, slot }, [port2]);
    return { slot, port: port1, ctl, cmd: new Float64Array(this.memory.buffer, base + HEADER, CMD_CAPACITY), seq: 0, sent: [] };
  }

  /** Makes a compiled module's functions (global id -> export name) callable on every worker. */
  register(module: WasmModule, fns: Array<[number, string]>): void {
    this.modules.push({ module, fns });
    for (const w of this.workers) w.port.postMessage({ module, fns });
  }

  /** Test hook: worker `index` (0-based) dies at its next call, by process.exit, an uncaught
   * error, or running out of JS heap. */
  testDieAtNextCall(index: number, how: WorkerDeath): void {
    const w = this.workers[index];
    if (!w) throw new RangeError(`wasm pool: no worker ${index} (the pool has ${this.workers.length})`);
    Atomics.store(w.ctl, TEST_DIE, DEATHS.indexOf(how) + 1);
  }

  /** Runs lists[0] on the calling thread and lists[t] on worker t-1, and waits for all of them.
   * Lists too long for a command buffer run in several rounds. A worker that dies makes this
   * throw (after the other threads finish) and is replaced for later calls. */
  run(lists: KernelCall[][], local: (call: KernelCall) => void): void {
    const pending = lists.map(() => 0);
    for (;;) {
      const started: PoolWorker[] = [];
      for (let t = 1; t < lists.length; t++) {
        const list = lists[t]!;
        if (pending[t]! >= list.length) continue;
        // A worker that died between calls is replaced before it is given work.
        if (Atomics.load(this.workers[t - 1]!.ctl, DEAD)) this.restart(this.workers[t - 1]!);
        const w = this.workers[t - 1]!;
        let p = 1, c = pending[t]!;
        for (; c < list.length; c++) {
          const call = list[c]!;
          if (p + 2 + call.args.length > CMD_CAPACITY) break;
          w.cmd[p] = call.fn; w.cmd[p + 1] = call.args.length;
          for (let i = 0; i < call.args.length; i++) w.cmd[p + 2 + i] = call.args[i]!;
          p += 2 + call.args.length;
        }
        w.cmd[0] = c - pending[t]!;
        w.sent = list.slice(pending[t], c);
        pending[t] = c;
        w.seq = nextSeq(w.seq);
        Atomics.store(w.ctl, OPEN, w.seq);
        Atomics.store(w.ctl, SEQ, w.seq);
        Atomics.notify(w.ctl, SEQ);
        started.push(w);
      }
      let error: unknown;
      try {
        for (const call of lists[0] ?? []) local(call);
      } catch (e) { error = e; }
      if (lists[0]) pending[0] = lists[0].length;
      for (const w of started) {
        // A list its worker has not taken yet runs here, when this thread had a share of its own
        // (not when a caller put work on workers only, as the pool tests do, nor while a test
        // hook is armed: the worker must meet it). Otherwise wait for the worker.
        if (lists[0]?.length && Atomics.load(w.ctl, TEST_DIE) === 0 && Atomics.compareExchange(w.ctl, OPEN, w.seq, 0) === w.seq) {
          this.taken++;
          try { for (const call of w.sent) local(call); } catch (e) { error ??= e; }
          continue;
        }
        try { this.wait(w); } catch (e) { error ??= e; }
      }
      if (error) throw error;
      if (lists.every((l, t) => pending[t]! >= l.length)) return;
      lists = lists.map((l, t) => (t === 0 ? [] : l));
    }
  }

  private wait(w: PoolWorker): void {
    // Spin briefly (the work is usually balanced), then sleep in slices: between slices check
    // that the worker is alive and that the supervisor (which would report its death) is too.
    for (let i = 0; i < 2000 && Atomics.load(w.ctl, DONE) !== w.seq; i++);
    let beat = Atomics.load(this.sup, BEAT), beatAt = performance.now();
    for (let done; (done = Atomics.load(w.ctl, DONE)) !== w.seq;) {
      // Wait on the value just seen: if the worker finishes in between, wait returns at once.
      if (Atomics.wait(w.ctl, DONE, done, WAIT_SLICE_MS) !== 'timed-out') continue;
      if (Atomics.load(w.ctl, DEAD)) break;
      const now = performance.now(), b = Atomics.load(this.sup, BEAT);
      if (b !== beat) { beat = b; beatAt = now; } else if (now - beatAt > SUPERVISOR_SILENCE_MS) {
        throw new Error(`wasm pool: the supervisor thread stopped (no heartbeat for ${Math.round(now - beatAt)} ms) while worker ${w.slot} ran ${this.describe(w)}`);
      }
    }
    const error = Atomics.load(w.ctl, ERROR);
    if (error === ERROR_DIED || Atomics.load(w.ctl, DEAD)) this.died(w);
    if (error !== 0) {
      const m = receiveMessageOnPort(w.port);
      throw new Error(`wasm worker ${w.slot} failed in ${this.describe(w)}: ${m ? String(m.message) : 'unknown error'}`);
    }
  }

  /** The kernel a worker was running: name, and its place in the list it was given. */
  private describe(w: PoolWorker): string {
    const c = Math.min(Math.max(0, w.ctl[CURRENT]!), Math.max(0, w.sent.length - 1));
    const call = w.sent[c];
    return call ? `kernel '${this.nameOf(call.fn)}' (call ${c + 1} of ${w.sent.length})` : 'no kernel';
  }

  /** Replaces a dead worker and throws the error of the call it was running. */
  private died(w: PoolWorker): never {
    const what = this.describe(w);
    const { code, error } = this.restart(w);
    const cause = error ? `: ${error.split('\n')[0]}` : '';
    throw new Error(`wasm worker ${w.slot} died (exit code ${code}${cause}) while running ${what}; the call failed and a new worker was started`);
  }

  /** Starts a replacement for a dead worker; returns how the old one ended. */
  private restart(w: PoolWorker): { code: number; error: string } {
    // The supervisor sets DEAD last; wait for it so no late store lands in the restarted slot.
    for (let i = 0; i < 100 && Atomics.load(w.ctl, DEAD) === 0; i++) Atomics.wait(w.ctl, DEAD, 0, WAIT_SLICE_MS);
    // It posts the exit (with any uncaught error) before it marks the slot.
    let info = { code: Atomics.load(w.ctl, EXIT_CODE), error: '' };
    for (let m; (m = receiveMessageOnPort(this.reports!));) {
      const msg = m.message as { slot: number; code: number; error: string };
      if (msg.slot === w.slot) info = msg;
    }
    w.port.close();
    this.workers[w.slot - 1] = this.start(w.slot);
    this.restarts++;
    return info;
  }

  /** Stops the workers (they exit their loop at the next wake-up) and the supervisor. */
  close(): void {
    Atomics.store(this.sup, CLOSING, 1);
    for (const w of this.workers) {
      w.cmd[0] = -1;
      w.seq = nextSeq(w.seq);
      Atomics.store(w.ctl, OPEN, w.seq);
      Atomics.store(w.ctl, SEQ, w.seq);
      Atomics.notify(w.ctl, SEQ);
    }
    this.workers.length = 0;
    this.reports?.close();
    void this.supervisor?.terminate();
  }
}
