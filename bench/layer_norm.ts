// layer_norm family: forward (normalize + affine, as F.layerNorm runs it: one fused row kernel,
// then mul and add) and the row kernel alone; TF.js peer from tf.moments.
import { checkClose, sampleIndices } from './check.ts';
import { type BenchContext, describeRow, row } from './context.ts';
import type { ResultRow } from './results.ts';
import { time } from './timing.ts';

const CASES: [number, number][] = [[1024, 256], [4096, 896], [8192, 1024]];
const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));

export async function benchLayerNorm(ctx: BenchContext): Promise<ResultRow[]> {
  const { be } = ctx;
  const rows: ResultRow[] = [];
  for (const [r, c] of CASES) {
    const hx = ramp(r * c).map((v, i) => v + Math.cos(i * 0.0013)), hg = ramp(c), hb = ramp(c).reverse();
    const x = be.fromArray(hx), g = be.fromArray(hg), b = be.fromArray(hb);
    { // checked once before timing: sampled rows against the definition in float64
      const n = be.normalize(x, r, c, 1e-5, false);
      const y1 = be.binary('mul', n.y, [r, c], g, [c], [r, c], 'float32');
      const y2 = be.binary('add', y1, [r, c], b, [c], [r, c], 'float32');
      const got = await be.read(y2);
      for (const s of [n.y, n.mean, n.rstd, y1, y2]) be.free(s);
      for (const row of sampleIndices(r, 16)) {
        const xs = hx.subarray(row * c, (row + 1) * c);
        const mean = xs.reduce((s, v) => s + v, 0) / c, vr = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / c;
        const want = Array.from(xs, (v, j) => ((v - mean) / Math.sqrt(vr + 1e-5)) * hg[j]! + hb[j]!);
        checkClose(`layer_norm [${r},${c}] row ${row}`, got.subarray(row * c, (row + 1) * c), want, 1e-4, 1e-4);
      }
    }
    const ours = await time(async () => {
      const n = be.normalize(x, r, c, 1e-5, false);
      const y1 = be.binary('mul', n.y, [r, c], g, [c], [r, c], 'float32');
      const y2 = be.binary('add', y1, [r, c], b, [c], [r, c], 'float32');
      await be.read(y2);
      for (const s of [n.y, n.mean, n.rstd, y1, y2]) be.free(s);
    }, { runs: 7 });
    for (const s of [x, g, b]) be.free(s);
    const peer = ctx.peer ? { name: ctx.peer.name, ms: (await time(await ctx.peer.layerNorm(r, c), { runs: 7 })).medianMs } : null;
    // ~8 flops per element (mean, variance, normalise, affine): a memory-bound op, so also GB/s.
    const res = row('layer_norm', `[${r},${c}] +affine`, 'reconvla-webgpu', ours.medianMs, 8 * r * c, peer, { main_thread_cpu_percent: ours.mainThreadCpuPercent });
    ctx.log(describeRow(res)); rows.push(res);
  }
  return rows;
}
