// Attention family: causal self-attention, head dim 64, 8 heads, seq 64..1024, forward alone and
// forward + backward; TF.js peer (matMul-softmax-matMul) on the forward. GFLOP/s count the
// useful causal flops (half of the full 4 T^2 D per head; backward 2x forward).
import type { AttentionArgs, Storage } from '../packages/core/src/backend.ts';
import type { WebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import { createCpuBackend } from '../packages/core/src/backends/cpu/index.ts';
import { checkClose } from './check.ts';
import { type BenchContext, describeRow, row } from './context.ts';
import type { ResultRow } from './results.ts';
import { time } from './timing.ts';
import { variantBackend, variantName } from './variant.ts';

const HEADS = 8, DIM = 64;
const cpuRef = createCpuBackend();
const SEQS = (process.env.BENCH_ATTENTION_SEQS ?? "64,128,256,512,1024").split(",").map(Number);

function fill(n: number): Float32Array { return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)); }

async function timeAttention(be: WebGPUBackend, t: number, backward: boolean, runs: number) {
  const args: AttentionArgs = { batch: 1, heads: HEADS, kvHeads: HEADS, tq: t, tk: t, dim: DIM, dimV: DIM, scale: 1 / Math.sqrt(DIM), causal: true, maskBatchStride: 0, maskHeadStride: 0 };
  const n = HEADS * t * DIM;
  const hq = fill(n), hk = fill(n).reverse(), hv = fill(n).map((x) => x * 0.5);
  const q = be.fromArray(hq), k = be.fromArray(hk), v = be.fromArray(hv);
  await checkAttention(be, args, [q, k, v], hq, hk, hv, backward);
  const r = await time(async () => {
    const o = be.attention(q, k, v, args);
    if (backward) {
      const g = be.attentionGrad(q, k, v, o.out, o.lse, o.out, args);
      await be.read(g.gk);
      be.free(g.gq); be.free(g.gk); be.free(g.gv);
    } else {
      await be.read(o.out);
    }
    be.free(o.out); be.free(o.lse);
  }, { runs });
  for (const s of [q, k, v]) be.free(s);
  return r;
}

/** Checked once before timing: head 0 and the last head (heads are independent) against the CPU
 * reference, forward out and lse, and with `backward` the gradients for gOut = out. */
async function checkAttention(be: WebGPUBackend, args: AttentionArgs, [sq, sk, sv]: Storage[], hq: Float32Array, hk: Float32Array, hv: Float32Array, backward: boolean): Promise<void> {
  const o = be.attention(sq!, sk!, sv!, args);
  const g = backward ? be.attentionGrad(sq!, sk!, sv!, o.out, o.lse, o.out, args) : null;
  const got = { out: await be.read(o.out), lse: await be.read(o.lse), ...(g ? { gq: await be.read(g.gq), gk: await be.read(g.gk), gv: await be.read(g.gv) } : {}) };
  const one: AttentionArgs = { ...args, heads: 1, kvHeads: 1 };
  const span = args.tq * args.dim;
  for (const h of [0, args.heads - 1]) {
    const sl = (x: Float32Array) => cpuRef.fromArray(x.slice(h * span, (h + 1) * span));
    const [q, k, v] = [sl(hq), sl(hk), sl(hv)];
    const c = cpuRef.attention(q, k, v, one);
    const what = `attention ${args.tq}x${args.dim} head ${h} [${be.name}]`;
    const part = (x: ArrayLike<number>, len: number) => Array.from({ length: len }, (_, i) => x[h * len + i]!);
    checkClose(`${what} out`, part(got.out, span), await cpuRef.read(c.out), 1e-5, 1e-4);
    checkClose(`${what} lse`, part(got.lse, args.tq), await cpuRef.read(c.lse), 1e-5, 1e-5);
    if (g) {
      const cg = cpuRef.attentionGrad(q, k, v, c.out, c.lse, c.out, one);
      for (const key of ['gq', 'gk', 'gv'] as const) checkClose(`${what} ${key}`, part(got[key]!, span), await cpuRef.read(cg[key]), 1e-4, 1e-3);
    }
  }
  for (const s of [o.out, o.lse, ...(g ? [g.gq, g.gk, g.gv] : [])]) be.free(s);
}

export async function benchAttention(ctx: BenchContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const vbe = ctx.variant ? await variantBackend(ctx.variant, ctx.be) : null;
  for (const t of SEQS) {
    const fwdFlop = 2 * HEADS * t * t * 2 * DIM * 0.5;
    for (const backward of [false, true]) {
      const runs = t >= 1024 ? 3 : 5;
      const kase = `B1 H${HEADS} T${t} D${DIM} causal ${backward ? 'fwd+bwd' : 'fwd'}`;
      const ours = await timeAttention(ctx.be, t, backward, runs);
      let peer: { name: string; ms: number } | null = null;
      let backend = 'reconvla-webgpu';
      if (vbe) {
        const v = await timeAttention(vbe, t, backward, runs);
        peer = { name: 'current', ms: ours.medianMs };
        backend = `variant ${variantName(ctx.variant!)}`;
        const r = row('attention', kase, backend, v.medianMs, fwdFlop * (backward ? 3 : 1), peer);
        ctx.log(describeRow(r)); rows.push(r);
        continue;
      }
      if (ctx.peer && !backward && t <= 512) {
        peer = { name: ctx.peer.name, ms: (await time(await ctx.peer.attention(1, HEADS, t, DIM), { runs })).medianMs };
      }
      const r = row('attention', kase, backend, ours.medianMs, fwdFlop * (backward ? 3 : 1), peer, { main_thread_cpu_percent: ours.mainThreadCpuPercent });
      ctx.log(describeRow(r)); rows.push(r);
    }
  }
  vbe?.destroy();
  return rows;
}
