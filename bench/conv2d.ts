// conv2d family: VAE shapes (3x3 convs at 64x64 and 32x32, the stride-2 asymmetric-padding
// downsampler), forward, grad input and grad weight; TF.js peer (NHWC, forward only).
import type { Conv2dArgs } from '../packages/core/src/backend.ts';
import type { WebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import { type BenchContext, describeRow, row } from './context.ts';
import type { ResultRow } from './results.ts';
import { time } from './timing.ts';
import { variantBackend, variantName } from './variant.ts';

interface Case { n: number; c: number; hw: number; o: number; k: number; stride: number; pad: [number, number, number, number] }
const CASES: Case[] = [
  { n: 2, c: 128, hw: 64, o: 128, k: 3, stride: 1, pad: [1, 1, 1, 1] },
  { n: 2, c: 256, hw: 32, o: 256, k: 3, stride: 1, pad: [1, 1, 1, 1] },
  { n: 2, c: 128, hw: 64, o: 128, k: 3, stride: 2, pad: [0, 1, 0, 1] }, // diffusers Downsample2D
  { n: 2, c: 3, hw: 128, o: 128, k: 3, stride: 1, pad: [1, 1, 1, 1] },  // conv_in
];

function args(c: Case): Conv2dArgs {
  const [pt, pb, pl, pr] = c.pad;
  return {
    n: c.n, c: c.c, h: c.hw, w: c.hw, o: c.o, kh: c.k, kw: c.k, strideH: c.stride, strideW: c.stride,
    padTop: pt, padBottom: pb, padLeft: pl, padRight: pr,
    oh: Math.floor((c.hw + pt + pb - c.k) / c.stride) + 1, ow: Math.floor((c.hw + pl + pr - c.k) / c.stride) + 1,
  };
}

const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));

async function timeConv(be: WebGPUBackend, a: Conv2dArgs, which: 'fwd' | 'grad_input' | 'grad_weight', runs: number) {
  const x = be.fromArray(ramp(a.n * a.c * a.h * a.w)), w = be.fromArray(ramp(a.o * a.c * a.kh * a.kw));
  const b = be.fromArray(ramp(a.o)), gy = be.fromArray(ramp(a.n * a.o * a.oh * a.ow));
  const r = await time(async () => {
    const y = which === 'fwd' ? be.conv2d(x, w, b, a) : which === 'grad_input' ? be.conv2dGradInput(gy, w, a) : be.conv2dGradWeight(x, gy, a);
    await be.read(y);
    be.free(y);
  }, { runs });
  for (const s of [x, w, b, gy]) be.free(s);
  return r;
}

export async function benchConv2d(ctx: BenchContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const vbe = ctx.variant ? await variantBackend(ctx.variant, ctx.be) : null;
  for (const c of CASES) {
    const a = args(c);
    const flop = 2 * a.n * a.o * a.oh * a.ow * a.c * a.kh * a.kw;
    for (const which of ['fwd', 'grad_input', 'grad_weight'] as const) {
      const ours = await timeConv(ctx.be, a, which, 3);
      const kase = `x[${a.n},${a.c},${a.h},${a.w}] w[${a.o},${a.c},${a.kh},${a.kw}] s${c.stride} pad ${c.pad.join(',')} ${which}`;
      if (vbe) {
        const v = await timeConv(vbe, a, which, 3);
        const r = row('conv2d', kase, `variant ${variantName(ctx.variant!)}`, v.medianMs, flop, { name: 'current', ms: ours.medianMs });
        ctx.log(describeRow(r)); rows.push(r);
        continue;
      }
      const peer = ctx.peer && which === 'fwd' && c.stride === 1
        ? { name: ctx.peer.name, ms: (await time(await ctx.peer.conv2d(c.n, c.c, c.hw, c.o, c.k, c.stride), { runs: 3 })).medianMs } : null;
      const r = row('conv2d', kase, 'reconvla-webgpu', ours.medianMs, flop, peer, { main_thread_cpu_percent: ours.mainThreadCpuPercent });
      ctx.log(describeRow(r)); rows.push(r);
    }
  }
  vbe?.destroy();
  return rows;
}
