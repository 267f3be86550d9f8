// conv2d family: VAE shapes (3x3 convs at 64x64 and 32x32, the stride-2 asymmetric-padding
// downsampler), forward, grad input and grad weight; TF.js peer (NHWC, forward only).
import type { Conv2dArgs } from '../packages/core/src/backend.ts';
import type { WebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import { checkClose, sampleIndices } from './check.ts';
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

/** One entry of the result in float64 on the host (the direct definition of each pass). */
function convEntry(a: Conv2dArgs, which: 'fwd' | 'grad_input' | 'grad_weight', hx: Float32Array, hw: Float32Array, hb: Float32Array, hgy: Float32Array, e: number): number {
  const X = (n: number, c: number, y: number, x: number) => (y < 0 || y >= a.h || x < 0 || x >= a.w ? 0 : hx[((n * a.c + c) * a.h + y) * a.w + x]!);
  const W = (o: number, c: number, u: number, v: number) => hw[((o * a.c + c) * a.kh + u) * a.kw + v]!;
  const GY = (n: number, o: number, i: number, j: number) => hgy[((n * a.o + o) * a.oh + i) * a.ow + j]!;
  let s = 0;
  if (which === 'fwd') {
    const j = e % a.ow, i = Math.floor(e / a.ow) % a.oh, o = Math.floor(e / (a.ow * a.oh)) % a.o, n = Math.floor(e / (a.ow * a.oh * a.o));
    s = hb[o]!;
    for (let c = 0; c < a.c; c++) for (let u = 0; u < a.kh; u++) for (let v = 0; v < a.kw; v++) s += X(n, c, i * a.strideH - a.padTop + u, j * a.strideW - a.padLeft + v) * W(o, c, u, v);
  } else if (which === 'grad_input') {
    const x = e % a.w, y = Math.floor(e / a.w) % a.h, c = Math.floor(e / (a.w * a.h)) % a.c, n = Math.floor(e / (a.w * a.h * a.c));
    for (let o = 0; o < a.o; o++) for (let u = 0; u < a.kh; u++) for (let v = 0; v < a.kw; v++) {
      const ti = y + a.padTop - u, tj = x + a.padLeft - v;
      if (ti % a.strideH || tj % a.strideW) continue;
      const i = ti / a.strideH, j = tj / a.strideW;
      if (i >= 0 && i < a.oh && j >= 0 && j < a.ow) s += GY(n, o, i, j) * W(o, c, u, v);
    }
  } else {
    const v = e % a.kw, u = Math.floor(e / a.kw) % a.kh, c = Math.floor(e / (a.kw * a.kh)) % a.c, o = Math.floor(e / (a.kw * a.kh * a.c));
    for (let n = 0; n < a.n; n++) for (let i = 0; i < a.oh; i++) for (let j = 0; j < a.ow; j++) s += GY(n, o, i, j) * X(n, c, i * a.strideH - a.padTop + u, j * a.strideW - a.padLeft + v);
  }
  return s;
}

async function timeConv(be: WebGPUBackend, a: Conv2dArgs, which: 'fwd' | 'grad_input' | 'grad_weight', runs: number) {
  const hx = ramp(a.n * a.c * a.h * a.w), hw = ramp(a.o * a.c * a.kh * a.kw).map((v, i) => v * Math.cos(i * 0.011)), hb = ramp(a.o), hgy = ramp(a.n * a.o * a.oh * a.ow).reverse();
  const x = be.fromArray(hx), w = be.fromArray(hw);
  const b = be.fromArray(hb), gy = be.fromArray(hgy);
  { // checked once before timing: sampled entries against the definition, in float64
    const y = which === 'fwd' ? be.conv2d(x, w, b, a) : which === 'grad_input' ? be.conv2dGradInput(gy, w, a) : be.conv2dGradWeight(x, gy, a);
    const got = await be.read(y);
    be.free(y);
    const idx = sampleIndices(got.length, 128);
    const sumLen = which === 'grad_weight' ? a.n * a.oh * a.ow : a.c * a.kh * a.kw;
    checkClose(`conv2d ${which} ${JSON.stringify(a)} (${idx.length} sampled entries)`, idx.map((e) => got[e]!), idx.map((e) => convEntry(a, which, hx, hw, hb, hgy, e)), 1e-5 * Math.sqrt(sumLen), 1e-4);
  }
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
