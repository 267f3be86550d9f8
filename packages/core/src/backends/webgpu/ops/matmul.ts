// Batched matmul, with sub-block dispatches for operands over the storage binding limit.
// The activation epilogue runs in the dispatch that completes each output's sum: the only one,
// or the block with the last K range when K is split (earlier blocks accumulate raw sums).
import type { MatmulActivation, MatmulArgs } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { windowOf } from '../windows.ts';
import { elemType, withReadableHalves } from './half.ts';

/** Register tile per invocation and workgroup shape; see shaders/matmul.wgsl. */
export interface MatmulTiling { tm: number; tn: number; wgx: number; wgy: number }

export function defaultTiling(rt: WebGPURuntime): MatmulTiling {
  // lavapipe/llvmpipe (a CPU): 16x16 blocks in 4x4 workgroups measured best at N=1024 (vs 8x8,
  // 4x8, 8x16, 16x32 and other workgroup shapes); real GPUs: small blocks (no register spills).
  return rt.software ? { tm: 16, tn: 16, wgx: 4, wgy: 4 } : { tm: 4, tn: 4, wgx: 16, wgy: 8 };
}

interface Block { i0: number; i1: number; j0: number; j1: number; p0: number; p1: number }

/** The ACT override of matmul.wgsl (codes of shaders/activation.wgsl). */
const ACT_CODE: Readonly<Record<MatmulActivation, number>> = { gelu_erf: 1, gelu_tanh: 2, silu: 3, relu: 4 };

export function matmul(rt: WebGPURuntime, a: GPUStorage, b: GPUStorage, args: MatmulArgs, bias: GPUStorage | undefined, tiling: MatmulTiling): GPUStorage {
  return withReadableHalves(rt, [a, b], ([a2, b2]) => matmulOf(rt, a2!, b2!, args, bias, tiling));
}

function matmulOf(rt: WebGPURuntime, a: GPUStorage, b: GPUStorage, args: MatmulArgs, bias: GPUStorage | undefined, tiling: MatmulTiling): GPUStorage {
  const { batch, m, k, n, transA, transB } = args;
  const c = rt.alloc(batch * m * n, 'float32');
  if (batch * m * n === 0) return c;
  const act = args.activation;
  const label = `matmul b${batch} [${m},${k}]${transA ? 'T' : ''} x [${k},${n}]${transB ? 'T' : ''}${bias ? ' +bias' : ''}${act ? ` ${act}` : ''}`;
  if (k === 0) { // empty sum: C = act(bias) or act(0) = 0 (0 for every epilogue activation)
    rt.clear(c);
    if (!bias) return c;
  }
  const sa_i = transA ? 1 : k, sa_p = transA ? m : 1;
  const sb_p = transB ? 1 : n, sb_j = transB ? k : 1;
  const spec = {
    file: 'matmul', entry: 'matmul',
    subst: { TM: `${tiling.tm}u`, TN: `${tiling.tn}u`, AT: elemType(a), BT: elemType(b) },
    overrides: { WGX: tiling.wgx, WGY: tiling.wgy },
  };
  const actSpec = act ? { ...spec, overrides: { ...spec.overrides, ACT: ACT_CODE[act] } } : spec;
  const fits = a.bytes <= rt.maxBinding && b.bytes <= rt.maxBinding && c.bytes <= rt.maxBinding;
  const dispatchBlock = (blk: Block, z0: number, zn: number, accumulate: boolean) => {
    const bm = blk.i1 - blk.i0, bn = blk.j1 - blk.j0, bk = blk.p1 - blk.p0;
    const aStart = z0 * args.aBatchStride + blk.i0 * sa_i + blk.p0 * sa_p;
    const aEnd = aStart + (zn - 1) * args.aBatchStride + (bm - 1) * sa_i + (bk - 1) * sa_p + 1;
    const bStart = z0 * args.bBatchStride + blk.p0 * sb_p + blk.j0 * sb_j;
    const bEnd = bStart + (zn - 1) * args.bBatchStride + (bk - 1) * sb_p + (bn - 1) * sb_j + 1;
    const cStart = z0 * m * n + blk.i0 * n + blk.j0;
    const cEnd = cStart + (zn - 1) * m * n + (bm - 1) * n + bn;
    const aw = windowOf(rt, a, aStart, aEnd - aStart);
    const bw = windowOf(rt, b, bStart, bEnd - bStart);
    const cw = windowOf(rt, c, cStart, cEnd - cStart);
    const flags = (bias && !accumulate ? 1 : 0) | (accumulate ? 2 : 0);
    const p = new Params()
      .u(bm).u(bn).u(bk).u(n)
      .u(sa_i).u(sa_p).u(sb_p).u(sb_j)
      .u(aStart - aw.base).u(bStart - bw.base).u(cStart - cw.base).u(flags)
      .u(args.aBatchStride).u(args.bBatchStride).u(m * n).u(blk.j0);
    const groups: [number, number, number] = [Math.ceil(bn / tiling.tn / tiling.wgx), Math.ceil(bm / tiling.tm / tiling.wgy), zn];
    rt.dispatch(blk.p1 === k ? actSpec : spec, p, [aw.binding, bw.binding, cw.binding, bias ?? aw.binding], groups, label, 2 * bm * bn * Math.max(bk, 1) * zn);
  };
  const whole: Block = { i0: 0, i1: m, j0: 0, j1: n, p0: 0, p1: k };
  if (fits && batch <= rt.maxWorkgroupsPerDim) {
    if (k > 0) dispatchBlock(whole, 0, batch, false);
    else if (bias) dispatchBlock({ ...whole, p1: 0 }, 0, batch, false);
    return c;
  }
  // Over the binding limit: split the largest dimension until every operand window fits.
  const limit = (rt.maxBinding - 2 * rt.bindAlign) / 4;
  const span = (blk: Block) => {
    const bm = blk.i1 - blk.i0, bn = blk.j1 - blk.j0, bk = blk.p1 - blk.p0;
    return {
      a: (bm - 1) * sa_i + (bk - 1) * sa_p + 1,
      b: (bk - 1) * sb_p + (bn - 1) * sb_j + 1,
      c: (bm - 1) * n + bn,
    };
  };
  const blocks: Block[] = [];
  const split = (blk: Block) => {
    const s = span(blk);
    if (s.a <= limit && s.b <= limit && s.c <= limit) { blocks.push(blk); return; }
    const bm = blk.i1 - blk.i0, bn = blk.j1 - blk.j0, bk = blk.p1 - blk.p0;
    // Halve the dimension with the largest extent among those that drive the oversized spans.
    const cand: [keyof Block, keyof Block, number][] = [];
    if (s.a > limit || s.c > limit) cand.push(['i0', 'i1', bm]);
    if (s.b > limit || s.c > limit) cand.push(['j0', 'j1', bn]);
    if (s.a > limit || s.b > limit) cand.push(['p0', 'p1', bk]);
    cand.sort((x, y) => y[2] - x[2]);
    const [lo, hi, len] = cand[0]!;
    if (len <= 1) throw new Error(`webgpu ${label}: cannot split into blocks under the binding limit`);
    const mid = blk[lo] + Math.ceil(len / 2 / 64) * 64 < blk[hi] ? blk[lo] + Math.ceil(len / 2 / 64) * 64 : blk[lo] + Math.ceil(len / 2);
    split({ ...blk, [hi]: mid });
    split({ ...blk, [lo]: mid });
  };
  split(whole);
  for (let z = 0; z < batch; z++) {
    for (const blk of blocks) dispatchBlock(blk, z, 1, blk.p0 > 0);
  }
  return c;
}
