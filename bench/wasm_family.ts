// The wasm family of `npm run bench`: the wasm backend's kernel rows (bench/wasm.bench.ts, 1 and
// 2 threads, plain and relaxed SIMD) in the common results format, with PyTorch CPU's 1024
// matmul as the peer where python3-torch is installed.
import { loadavg } from 'node:os';
import type { BenchContext } from './context.ts';
import type { ResultRow } from './results.ts';
import { torchPeer } from './training.ts';
import { runWasmBench } from './wasm.bench.ts';

export async function benchWasm(ctx: BenchContext): Promise<ResultRow[]> {
  const torch = torchPeer(ctx.log);
  const rows: ResultRow[] = [];
  for (const r of runWasmBench()) {
    if (r.family === 'pool') continue;
    const label = `${r.case} (${r.threads} thread${r.threads > 1 ? 's' : ''}${r.relaxedSimd ? ', relaxed SIMD' : ''})`;
    const peerMs = r.family === 'matmul' && r.case === '1024x1024x1024' ? torch?.matmul1024_ms ?? null : null;
    const flop = r.gflops * r.ms * 1e6;
    const row: ResultRow = {
      family: `wasm ${r.family}`, case: label, backend: 'reconvla-wasm', ms: r.ms, gflops: r.gflops,
      peer: peerMs !== null ? torch!.name : null, peer_ms: peerMs, peer_gflops: peerMs !== null ? flop / peerMs / 1e6 : null,
      ratio: peerMs !== null ? peerMs / r.ms : null, loadavg: r.loadavg ?? loadavg()[0]!, // when the row was measured
    };
    ctx.log(`${row.family} ${row.case}: ${row.ms.toFixed(2)} ms, ${r.gflops.toFixed(1)} GFLOP/s${row.ratio !== null ? `, ${row.ratio.toFixed(2)}x ${row.peer}` : ''}`);
    rows.push(row);
  }
  return rows;
}
