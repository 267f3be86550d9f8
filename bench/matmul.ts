// Matmul family: square 256..2048 and the 4096x896x896 projection shape, our WebGPU backend
// vs TensorFlow.js WebGPU on the same adapter. Each run is awaited through a read-back.
import type { WebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import type { ResultRow } from './results.ts';
import type { TfPeer } from './tfjs_peer.ts';
import { time } from './timing.ts';

const CASES: [number, number, number][] = [[256, 256, 256], [512, 512, 512], [1024, 1024, 1024], [2048, 2048, 2048], [4096, 896, 896]];

export async function benchMatmul(be: WebGPUBackend, peer: TfPeer | null, log: (s: string) => void): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  for (const [m, k, n] of CASES) {
    const flop = 2 * m * k * n;
    const runs = flop > 4e9 ? 3 : 7;
    const a = be.fromArray(new Float32Array(m * k).fill(1)), b = be.fromArray(new Float32Array(k * n).fill(1));
    const ours = await time(async () => {
      const c = be.matmul(a, b, { batch: 1, m, k, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
      await be.read(c);
      be.free(c);
    }, { runs });
    be.free(a); be.free(b);
    let peerMs: number | null = null;
    if (peer) peerMs = (await time(await peer.matmul(m, k, n), { runs })).medianMs;
    const row: ResultRow = {
      family: 'matmul', case: `${m}x${k}x${n} f32`, backend: 'reconvla-webgpu', ms: ours.medianMs, gflops: flop / ours.medianMs / 1e6,
      peer: peer?.name ?? null, peer_ms: peerMs, peer_gflops: peerMs ? flop / peerMs / 1e6 : null,
      ratio: peerMs ? peerMs / ours.medianMs : null, main_thread_cpu_percent: ours.mainThreadCpuPercent,
    };
    log(`matmul ${row.case}: ${row.ms.toFixed(1)} ms ${row.gflops!.toFixed(2)} GFLOP/s | ${row.peer ?? 'no peer'} ${peerMs?.toFixed(1) ?? '-'} ms`
      + ` | ratio ${row.ratio?.toFixed(2) ?? '-'} | main-thread CPU ${ours.mainThreadCpuPercent?.toFixed(0) ?? '?'}% (process ${ours.processCpuPercent.toFixed(0)}%)`);
    rows.push(row);
  }
  return rows;
}
