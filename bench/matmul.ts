// Matmul family: square 256..2048 and the 4096x896x896 projection shape, our WebGPU backend
// vs TensorFlow.js WebGPU on the same adapter. Each run is awaited through a read-back.
// Epilogue rows (also alone: `npm run bench -- matmul_epilogue`): x W^T + b with a gelu_tanh
// epilogue, fused (one dispatch) vs matmul then the unary op, interleaved run by run.
import type { MatmulActivation, MatmulArgs } from '../packages/core/src/backend.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import { decodeF16, encodeF16 } from '../packages/core/src/half.ts';
import { checkMatmulSample, geluTanh, randomInput } from './check.ts';
import { type BenchContext, describeRow, row } from './context.ts';
import type { ResultRow } from './results.ts';
import { time } from './timing.ts';
import { variantBackend, variantName } from './variant.ts';

const CASES: [number, number, number][] = [[256, 256, 256], [512, 512, 512], [1024, 1024, 1024], [2048, 2048, 2048], [4096, 896, 896]];

async function timeMatmul(be: WebGPUBackend, m: number, k: number, n: number, runs: number) {
  const ha = randomInput(m * k, 1), hb = randomInput(k * n, 2);
  const a = be.fromArray(ha), b = be.fromArray(hb);
  { // checked once before timing
    const c = be.matmul(a, b, { batch: 1, m, k, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    checkMatmulSample(`matmul ${m}x${k}x${n} [${be.name}]`, await be.read(c), ha, hb, { m, k, n });
    be.free(c);
  }
  const r = await time(async () => {
    const c = be.matmul(a, b, { batch: 1, m, k, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    await be.read(c);
    be.free(c);
  }, { runs });
  be.free(a); be.free(b);
  return r;
}

export async function benchMatmul(ctx: BenchContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const vbe = ctx.variant ? await variantBackend(ctx.variant, ctx.be) : null;
  // The "main-thread CPU under 25% of wall time during the matmul bench", over all cases.
  let wallMs = 0, mainMs = 0, measured = true;
  for (const [m, k, n] of CASES) {
    const flop = 2 * m * k * n;
    const runs = flop > 4e9 ? 3 : 7;
    const kase = `${m}x${k}x${n} f32`;
    const ours = await timeMatmul(ctx.be, m, k, n, runs);
    const wall = ours.runs.reduce((x, y) => x + y, 0);
    wallMs += wall;
    if (ours.mainThreadCpuPercent === null) measured = false;
    else mainMs += (ours.mainThreadCpuPercent / 100) * wall;
    let r: ResultRow;
    if (vbe) {
      const v = await timeMatmul(vbe, m, k, n, runs);
      r = row('matmul', kase, `variant ${variantName(ctx.variant!)}`, v.medianMs, flop, { name: 'current', ms: ours.medianMs });
    } else {
      const peer = ctx.peer ? { name: ctx.peer.name, ms: (await time(await ctx.peer.matmul(m, k, n), { runs })).medianMs } : null;
      r = row('matmul', kase, 'reconvla-webgpu', ours.medianMs, flop, peer, { main_thread_cpu_percent: ours.mainThreadCpuPercent });
    }
    ctx.log(`${describeRow(r)} (process CPU ${ours.processCpuPercent.toFixed(0)}%)`);
    rows.push(r);
  }
  vbe?.destroy();
  if (!vbe && measured) {
    const all = row('matmul', `all ${CASES.length} cases above (timed runs)`, 'reconvla-webgpu', wallMs, null, null, { main_thread_cpu_percent: (100 * mainMs) / wallMs });
    ctx.log(describeRow(all)); rows.push(all);
  }
  if (!vbe) rows.push(...await benchMatmulEpilogue(ctx));
  return rows;
}

/** Linear-layer shapes [m, k, n]: square, and a Qwen2-0.5B MLP gate_proj over 4096 tokens. */
const EPILOGUE_CASES: [number, number, number][] = [[1024, 1024, 1024], [4096, 896, 3584]];

export async function benchMatmulEpilogue(ctx: BenchContext, act: MatmulActivation = 'gelu_tanh'): Promise<ResultRow[]> {
  const be = ctx.be, rows: ResultRow[] = [];
  for (const [m, k, n] of EPILOGUE_CASES) {
    const flop = 2 * m * k * n;
    const ha = randomInput(m * k, 3), hw = randomInput(n * k, 4), hb = randomInput(n, 5);
    const a = be.fromArray(ha), w = be.fromArray(hw);
    const bias = be.fromArray(hb);
    const args: MatmulArgs = { batch: 1, m, k, n, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, bias };
    if (act !== 'gelu_tanh') throw new Error(`matmul epilogue bench: no host check for ${act}`);
    { // both ways checked once before timing
      const c = be.matmul(a, w, { ...args, activation: act }), z = be.matmul(a, w, args), u = be.unary(act, z);
      const l = { m, k, n, transB: true };
      checkMatmulSample(`matmul ${m}x${k}x${n} +bias ${act} fused`, await be.read(c), ha, hw, l, (v, j) => geluTanh(v + hb[j]!), 1e-3);
      checkMatmulSample(`matmul ${m}x${k}x${n} +bias then ${act}`, await be.read(u), ha, hw, l, (v, j) => geluTanh(v + hb[j]!), 1e-3);
      for (const s of [c, z, u]) be.free(s);
    }
    const fused = async () => { const c = be.matmul(a, w, { ...args, activation: act }); await be.read(c); be.free(c); };
    const split = async () => { const z = be.matmul(a, w, args), c = be.unary(act, z); be.free(z); await be.read(c); be.free(c); };
    // A/B interleaved, one run each per round, so load changes hit both alike.
    const fusedMs: number[] = [], splitMs: number[] = [];
    await fused(); await split();
    for (let i = 0; i < (flop > 4e9 ? 3 : 7); i++) {
      fusedMs.push((await time(fused, { warmup: 0, runs: 1 })).medianMs);
      splitMs.push((await time(split, { warmup: 0, runs: 1 })).medianMs);
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    const r = row('matmul', `${m}x${k}x${n} f32 +bias ${act} epilogue`, 'reconvla-webgpu fused', med(fusedMs), flop, { name: 'matmul+unary', ms: med(splitMs) });
    ctx.log(describeRow(r));
    rows.push(r);
    be.free(a); be.free(w); be.free(bias);
  }
  return rows;
}

// float16 operands (`npm run bench -- matmul_f16`): the Linear layout (weight [n, k], transB),
// as an A/B against float32 x float32 on the same shapes in one process: f32 activations x f16
// weight, and f16 x f16. The three variants are timed in interleaved rounds (ABC ABC ABC) and
// each reports the median over its rounds, so a load spike on this shared machine hits all
// three alike. With shader-f16 the kernel reads array<f16>; `RECONVLA_BENCH_NO_F16=1` times the
// path without it (halves widened per call).
const HALF_CASES: [number, number, number][] = [[1024, 1024, 1024], [4096, 896, 896]];
const HALF_VARIANTS = [['f32 x f32', false, false], ['f32 x f16 weight', false, true], ['f16 x f16', true, true]] as const;

async function linearRun(be: WebGPUBackend, m: number, k: number, n: number, aHalf: boolean, bHalf: boolean) {
  const host: Float32Array[] = [];
  const up = (len: number, half: boolean) => {
    const v = Float32Array.from({ length: len }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    host.push(half ? decodeF16(encodeF16(v)) : v); // what the kernel really multiplies
    return be.fromArray(half ? encodeF16(v) : v);
  };
  const a = up(m * k, aHalf), b = up(n * k, bHalf);
  { // checked once before timing
    const c = be.matmul(a, b, { batch: 1, m, k, n, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 });
    checkMatmulSample(`matmul ${m}x${k}x${n}${aHalf ? ' f16' : ''}${bHalf ? ' x f16' : ''}`, await be.read(c), host[0]!, host[1]!, { m, k, n, transB: true });
    be.free(c);
  }
  return {
    run: async () => {
      const c = be.matmul(a, b, { batch: 1, m, k, n, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 });
      await be.read(c);
      be.free(c);
    },
    free: () => { be.free(a); be.free(b); },
  };
}

export async function benchMatmulF16(ctx: BenchContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const be = process.env.RECONVLA_BENCH_NO_F16 ? await createWebGPUBackend({ shaderF16: false }) : ctx.be;
  const path = be.rt.hasF16 ? 'array<f16>' : 'widened per call';
  for (const [m, k, n] of HALF_CASES) {
    const flop = 2 * m * k * n;
    const runs = await Promise.all(HALF_VARIANTS.map(([, aHalf, bHalf]) => linearRun(be, m, k, n, aHalf, bHalf)));
    const medians: number[][] = HALF_VARIANTS.map(() => []);
    for (let round = 0; round < 3; round++) {
      for (const [i, r] of runs.entries()) medians[i]!.push((await time(r.run, { runs: 3, warmup: round === 0 ? 1 : 0 })).medianMs);
    }
    for (const r of runs) r.free();
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const f32 = med(medians[0]!);
    for (let i = 1; i < HALF_VARIANTS.length; i++) {
      const r = row('matmul_f16', `${m}x${k}x${n} ${HALF_VARIANTS[i]![0]} (${path})`, 'reconvla-webgpu', med(medians[i]!), flop, { name: 'f32 x f32 (same run)', ms: f32 });
      ctx.log(describeRow(r));
      rows.push(r);
    }
  }
  if (be !== ctx.be) be.destroy();
  return rows;
}
