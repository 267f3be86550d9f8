// What every bench family gets: the WebGPU backend under test, the TF.js peer (null when it
// could not load), a logger, and the kernel variant to compare against (see variant.ts).
import { loadavg } from 'node:os';
import type { WebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import type { ResultRow } from './results.ts';
import type { TfPeer } from './tfjs_peer.ts';
import type { Variant } from './variant.ts';

export interface BenchContext {
  be: WebGPUBackend;
  peer: TfPeer | null;
  log: (s: string) => void;
  /** Set by `--variant k=v,...`: the family also times a backend built with these overrides. */
  variant: Variant | null;
}

export type BenchFamily = (ctx: BenchContext) => Promise<ResultRow[]>;

/** One result row; ratio = peer_ms / ms (> 1: we are faster). */
export function row(family: string, kase: string, backend: string, ms: number, flop: number | null,
  peer: { name: string; ms: number } | null, extra: Partial<ResultRow> = {}): ResultRow {
  return {
    family, case: kase, backend, ms, gflops: flop ? flop / ms / 1e6 : null,
    peer: peer?.name ?? null, peer_ms: peer?.ms ?? null, peer_gflops: peer && flop ? flop / peer.ms / 1e6 : null,
    ratio: peer ? peer.ms / ms : null, loadavg: loadavg()[0]!, ...extra,
  };
}

export function describeRow(r: ResultRow): string {
  const f = (v: number | null | undefined, d = 1) => (v === null || v === undefined ? '-' : v.toFixed(d));
  return `${r.family} ${r.case} [${r.backend}]: ${f(r.ms, 2)} ms${r.gflops ? ` ${f(r.gflops, 2)} GFLOP/s` : ''}`
    + (r.peer ? ` | ${r.peer} ${f(r.peer_ms, 2)} ms | ratio ${f(r.ratio, 2)}` : '')
    + (r.main_thread_cpu_percent !== undefined && r.main_thread_cpu_percent !== null ? ` | main-thread CPU ${f(r.main_thread_cpu_percent, 0)}%` : '')
    + (r.loadavg !== undefined ? ` | load ${f(r.loadavg, 2)}` : '');
}
