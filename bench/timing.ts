// Careful wall-clock timing: warm-up, then the median of several runs, plus how much CPU the
// main JS thread used over those runs (it should idle while the GPU works).
import { mainThreadCpuMs } from './main_thread_cpu.ts';

export interface Timing { medianMs: number; runs: number[]; mainThreadCpuPercent: number | null; processCpuPercent: number }

/** Wall-clock milliseconds of one awaited run. */
async function elapsedMs(fn: () => Promise<void>): Promise<number> {
  const s = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - s) / 1e6;
}

export async function time(fn: () => Promise<void>, opts: { warmup?: number; runs?: number; maxMs?: number } = {}): Promise<Timing> {
  const { warmup = 1, runs = 5, maxMs = 20_000 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  // A pipeline lavapipe has just compiled (Mesa shader cache miss: a new or changed kernel, or a
  // variant) runs slow at first and speeds up over seconds of use (measured: 55 ms falling to 9 ms
  // over 35 runs; from the cache, 10 ms from the start). Keep warming, in windows of 3 runs, while
  // a window's median is clearly below the last one, so A/B comparisons in one process do not
  // favour the kernel compiled first. Cached pipelines stop after two windows.
  const warmStart = Date.now();
  for (let prev = Infinity; Date.now() - warmStart < 15_000;) {
    const w: number[] = [];
    for (let i = 0; i < 3; i++) w.push(await elapsedMs(fn));
    const med = w.sort((a, b) => a - b)[1]!;
    if (med > 0.95 * prev) break;
    prev = med;
  }
  const samples: number[] = [];
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) {
    samples.push(await elapsedMs(fn));
    if (Number(process.hrtime.bigint() - t0) / 1e6 > maxMs && samples.length >= 2) break;
  }
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  const main1 = mainThreadCpuMs();
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    medianMs, runs: samples,
    mainThreadCpuPercent: main0 === null || main1 === null ? null : (100 * (main1 - main0)) / wallMs,
    processCpuPercent: (100 * (cpu.user + cpu.system)) / 1000 / wallMs,
  };
}
