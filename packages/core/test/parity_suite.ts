// The parity suite every non-reference backend runs: each Backend method against the CPU
// reference, op by op, on the same inputs, within a per-op tolerance. Shapes come from
// fast-check and include sizes that are not multiples of the kernels' tiles, size-1 and
// broadcast dims, batches and masks. webgpu_parity.test.ts and wasm_parity.test.ts call
// defineParitySuite with their backend; `gpu` below is the backend under test.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Backend, BinaryOp, DType, Storage, UnaryOp, DifferentiableUnaryOp, AttentionArgs, Conv2dArgs, MatmulActivation } from '../src/backend.ts';
import { createCpuBackend } from '../src/backends/cpu/index.ts';
import { isClose } from '../../../test/helpers/close.ts';

export const cpu = createCpuBackend();

// --- helpers ------------------------------------------------------------------------------

export function randomF32(n: number, seed: number, lo = -2, hi = 2): Float32Array {
  // A small LCG: inputs are reproducible from the fast-check seed.
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}

/** Values at least 0.25 apart, shuffled: a row whose values nearly coincide has variance ~ 0,
 * where float32 and the float64 reference legitimately disagree by orders of magnitude. */
export function spreadF32(n: number, seed: number): Float32Array {
  const r = randomF32(n, seed, 0, 1), order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a]! - r[b]!);
  const out = new Float32Array(n);
  order.forEach((pos, rank) => { out[pos] = -3 + 0.25 * rank; });
  return out;
}

export function randomI32(n: number, seed: number, lo: number, hi: number): Int32Array {
  const f = randomF32(n, seed, 0, 1);
  return Int32Array.from(f, (v) => lo + Math.min(hi - lo - 1, Math.floor(v * (hi - lo))));
}

/** Uploads the same data to both backends. */
export function both(gpu: Backend, data: Float32Array | Int32Array): [Storage, Storage] {
  return [cpu.fromArray(data.slice()), gpu.fromArray(data.slice())];
}

export async function close(gpu: Backend, what: string, ref: Storage, got: Storage, atol: number, rtol: number): Promise<void> {
  const want = await cpu.read(ref);
  const have = await gpu.read(got);
  gpu.free(got);
  assert.equal(have.length, want.length, `${what}: length`);
  assert.equal(have instanceof Int32Array, want instanceof Int32Array, `${what}: dtype`);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!, h = have[i]!;
    if (Number.isNaN(w) && Number.isNaN(h)) continue;
    if (w === h) continue;
    // Equal NaNs were accepted above (both backends propagate them); isClose fails any other
    // NaN and an infinity against anything but itself (atol + rtol*inf would pass everything).
    if (!isClose(h, w, atol, rtol)) assert.fail(`${what}: element ${i} of ${want.length}: webgpu ${h} vs cpu ${w} (atol ${atol}, rtol ${rtol})`);
  }
}

export const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
export const dim = (max: number) => fc.integer({ min: 1, max });
export const seed = fc.integer({ min: 1, max: 1 << 30 });

/** Registers every parity test through backendTest (which names, runs or skips each one). */
export function defineParitySuite(backendTest: (name: string, fn: (gpu: Backend) => Promise<void>) => void, RUNS: number): void {
  // --- elementwise --------------------------------------------------------------------------

  const UNARY: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'tanh', 'sigmoid', 'silu', 'gelu_erf', 'gelu_tanh',
    'relu', 'sin', 'cos', 'square', 'reciprocal', 'sign'];
  const POSITIVE_ONLY = new Set<UnaryOp>(['log', 'sqrt', 'rsqrt', 'reciprocal']);

  backendTest('unary and unaryGrad (all ops, float32; neg/abs/sign/square on int32)', async (gpu) => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...UNARY), dim(600), seed, async (op, n, sd) => {
      const x = POSITIVE_ONLY.has(op) ? randomF32(n, sd, 0.1, 4) : randomF32(n, sd, -5, 5);
      const [xc, xg] = both(gpu, x);
      await close(gpu, `unary ${op}`, cpu.unary(op, xc), gpu.unary(op, xg), 2e-6, 2e-5);
      if (op !== 'sign') {
        const [gc, gg] = both(gpu, randomF32(n, sd + 1));
        const d = op as DifferentiableUnaryOp;
        await close(gpu, `unaryGrad ${op}`, cpu.unaryGrad(d, xc, gc), gpu.unaryGrad(d, xg, gg), 2e-6, 5e-5);
        gpu.free(gg);
      }
      if (op === 'neg' || op === 'abs' || op === 'sign' || op === 'square') {
        const [ic, ig] = both(gpu, randomI32(n, sd, -1000, 1000));
        await close(gpu, `unary ${op} int32`, cpu.unary(op, ic), gpu.unary(op, ig), 0, 0);
        gpu.free(ig);
      }
      gpu.free(xg);
    }), { numRuns: RUNS * 3 });
  });

  /** An output shape and two operand shapes broadcast into it (dims set to 1, leading dims dropped). */
  const broadcastShapes = fc.array(dim(7), { minLength: 0, maxLength: 5 }).chain((out) =>
    fc.tuple(fc.constant(out), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
      fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }), fc.integer({ min: 0, max: out.length }))
      .map(([o, ma, mb, drop]) => {
        const a = o.map((d, i) => (ma[i] ? 1 : d));
        const b = o.map((d, i) => (mb[i] ? 1 : d)).map((d, i) => (i < drop ? 1 : d));
        return { out: o, a, b };
      }));

  const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'max', 'min', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];

  backendTest('binary with broadcasting (float32, int32, comparisons to either dtype)', async (gpu) => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...BINARY), broadcastShapes, seed, fc.constantFrom<DType>('float32', 'int32'),
      async (op, s, sd, inDtype) => {
        const cmp = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op);
        const mk = (shape: number[], k: number) => {
          if (inDtype === 'int32') return randomI32(numel(shape), sd + k, op === 'div' || op === 'pow' ? 1 : -4, 5);
          // Rounded values so comparisons see ties; positive bases for pow.
          return op === 'pow' ? randomF32(numel(shape), sd + k, 0.2, 3) : randomF32(numel(shape), sd + k, -3, 3).map((v) => Math.round(v * 2) / 2);
        };
        const [ac, ag] = both(gpu, mk(s.a, 1));
        const [bc, bg] = both(gpu, mk(s.b, 2));
        const outDtypes: DType[] = cmp ? ['int32', 'float32'] : [inDtype];
        for (const od of outDtypes) {
          await close(gpu, `binary ${op} [${s.a}]x[${s.b}] ${inDtype}->${od}`, cpu.binary(op, ac, s.a, bc, s.b, s.out, od),
            gpu.binary(op, ag, s.a, bg, s.b, s.out, od), inDtype === 'int32' && op !== 'pow' && op !== 'div' ? 0 : 1e-6, 1e-5);
        }
        gpu.free(ag); gpu.free(bg);
      }), { numRuns: RUNS * 4 });
  });

  backendTest('where, cast, fill', async (gpu) => {
    await fc.assert(fc.asyncProperty(broadcastShapes, seed, async (s, sd) => {
      const [cc, cg] = both(gpu, randomI32(numel(s.a), sd, 0, 2));
      const [ac, ag] = both(gpu, randomF32(numel(s.b), sd + 1));
      const [bc, bg] = both(gpu, randomF32(numel(s.out), sd + 2));
      await close(gpu, `where [${s.a}] [${s.b}] [${s.out}]`, cpu.where(cc, s.a, ac, s.b, bc, s.out, s.out), gpu.where(cg, s.a, ag, s.b, bg, s.out, s.out), 0, 0);
      await close(gpu, 'cast f32->i32', cpu.cast(bc, 'int32'), gpu.cast(bg, 'int32'), 0, 0);
      await close(gpu, 'cast i32->f32', cpu.cast(cc, 'float32'), gpu.cast(cg, 'float32'), 0, 0);
      await close(gpu, 'cast f32->f32', cpu.cast(bc, 'float32'), gpu.cast(bg, 'float32'), 0, 0);
      await close(gpu, 'fill f32', cpu.fill(numel(s.out), 'float32', -1.5), gpu.fill(numel(s.out), 'float32', -1.5), 0, 0);
      await close(gpu, 'fill i32', cpu.fill(numel(s.out), 'int32', 7), gpu.fill(numel(s.out), 'int32', 7), 0, 0);
      await close(gpu, 'zeros', cpu.zeros(numel(s.out), 'float32'), gpu.zeros(numel(s.out), 'float32'), 0, 0);
      gpu.free(cg); gpu.free(ag); gpu.free(bg);
    }), { numRuns: RUNS });
  });

  // --- layout ---------------------------------------------------------------------------------

  /** A strided view over a contiguous base: a permutation, a slice with step, maybe a flip and a broadcast dim. */
  const stridedView = fc.array(dim(6), { minLength: 1, maxLength: 4 }).chain((base) => fc.tuple(
    fc.constant(base),
    fc.shuffledSubarray(base.map((_, i) => i), { minLength: base.length, maxLength: base.length }),
    fc.array(fc.tuple(fc.nat(5), fc.integer({ min: 1, max: 2 }), fc.boolean()), { minLength: base.length, maxLength: base.length }),
    fc.boolean(),
  )).map(([base, perm, slices, bcast]) => {
    const contiguous: number[] = [];
    let s = 1;
    for (let d = base.length - 1; d >= 0; d--) { contiguous[d] = s; s *= base[d]!; }
    let offset = 0;
    const shape: number[] = [], strides: number[] = [];
    for (const d of perm) {
      const [start0, step, flip] = slices[d]!;
      const start = start0 % base[d]!;
      const len = Math.ceil((base[d]! - start) / step);
      if (flip) { offset += (start + (len - 1) * step) * contiguous[d]!; strides.push(-step * contiguous[d]!); }
      else { offset += start * contiguous[d]!; strides.push(step * contiguous[d]!); }
      shape.push(len);
    }
    if (bcast) { shape.unshift(3); strides.unshift(0); }
    return { size: s, view: { shape, strides, offset } };
  });

  backendTest('gatherStrided and scatterStridedInto (permute, step, flip, broadcast)', async (gpu) => {
    await fc.assert(fc.asyncProperty(stridedView, seed, fc.constantFrom<DType>('float32', 'int32'), async ({ size, view }, sd, dt) => {
      const data = dt === 'float32' ? randomF32(size, sd) : randomI32(size, sd, -100, 100);
      const [xc, xg] = both(gpu, data);
      await close(gpu, `gather ${JSON.stringify(view)}`, cpu.gatherStrided(xc, view), gpu.gatherStrided(xg, view), 0, 0);
      if (view.strides[0] !== 0) { // scatter into a broadcast view is ill-defined
        const n = numel(view.shape);
        const src = dt === 'float32' ? randomF32(n, sd + 1) : randomI32(n, sd + 1, -100, 100);
        const [sc, sg] = both(gpu, src);
        cpu.scatterStridedInto(xc, view, sc);
        gpu.scatterStridedInto(xg, view, sg);
        await close(gpu, `scatter ${JSON.stringify(view)}`, xc, xg, 0, 0);
        gpu.free(sg);
      } else gpu.free(xg);
    }), { numRuns: RUNS * 2 });
  });

  // --- reductions -----------------------------------------------------------------------------

  backendTest('reduce sum/max/min/argmax/argmin over [outer, len, inner] (short and long rows, int32)', async (gpu) => {
    await fc.assert(fc.asyncProperty(fc.constantFrom('sum', 'max', 'min', 'argmax', 'argmin' as const), dim(5), fc.oneof(dim(9), fc.integer({ min: 250, max: 700 })),
      dim(6), seed, fc.constantFrom<DType>('float32', 'int32'), async (op, outer, len, inner0, sd, dt) => {
        const inner = len > 100 ? 1 : inner0;
        const n = outer * len * inner;
        // Coarse values make ties, which must resolve to the first index.
        const data = dt === 'float32' ? randomF32(n, sd).map((v) => Math.round(v * 4) / 4) : randomI32(n, sd, -20, 20);
        const [xc, xg] = both(gpu, data);
        const shape = { outer, len, inner };
        await close(gpu, `reduce ${op} ${JSON.stringify(shape)} ${dt}`, cpu.reduce(op, xc, shape), gpu.reduce(op, xg, shape), 1e-5, 1e-5);
        gpu.free(xg);
      }), { numRuns: RUNS * 3 });
  });

  // --- indexing -------------------------------------------------------------------------------

  backendTest('indexSelect, indexAdd (repeated ids), takeAlongAxis, takeAlongAxisGrad', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(4), dim(9), dim(7), dim(12), seed, async (outer, len, inner, nids, sd) => {
      const shape = { outer, len, inner };
      const [xc, xg] = both(gpu, randomF32(outer * len * inner, sd));
      const [ic, ig] = both(gpu, randomI32(nids, sd + 1, 0, len));
      await close(gpu, `indexSelect ${JSON.stringify(shape)} n${nids}`, cpu.indexSelect(xc, shape, ic), gpu.indexSelect(xg, shape, ig), 0, 0);
      const [gc, gg] = both(gpu, randomF32(outer * nids * inner, sd + 2));
      await close(gpu, `indexAdd ${JSON.stringify(shape)} n${nids}`, cpu.indexAdd(gc, shape, ic), gpu.indexAdd(gg, shape, ig), 1e-6, 1e-5);
      const k = nids;
      const [tc, tg] = both(gpu, randomI32(outer * k * inner, sd + 3, 0, len));
      await close(gpu, `takeAlongAxis ${JSON.stringify(shape)} k${k}`, cpu.takeAlongAxis(xc, shape, tc, k), gpu.takeAlongAxis(xg, shape, tg, k), 0, 0);
      await close(gpu, `takeAlongAxisGrad ${JSON.stringify(shape)} k${k}`, cpu.takeAlongAxisGrad(gc, shape, tc, k), gpu.takeAlongAxisGrad(gg, shape, tg, k), 1e-6, 1e-5);
      for (const s of [xg, ig, gg, tg]) gpu.free(s);
    }), { numRuns: RUNS });
  });

  // --- matmul ---------------------------------------------------------------------------------

  backendTest('matmul: batch (incl. stride-0 operands), transA/transB, bias, odd sizes', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(3), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 70 }),
      fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), seed,
      async (batch, m, k, n, transA, transB, shareA, shareB, withBias, sd) => {
        const aBatchStride = shareA ? 0 : m * k, bBatchStride = shareB ? 0 : k * n;
        const [ac, ag] = both(gpu, randomF32((shareA ? 1 : batch) * m * k, sd));
        const [bc, bg] = both(gpu, randomF32((shareB ? 1 : batch) * k * n, sd + 1));
        const [biasC, biasG] = both(gpu, randomF32(n, sd + 2));
        const args = { batch, m, k, n, transA, transB, aBatchStride, bBatchStride };
        await close(gpu, `matmul ${JSON.stringify(args)} bias ${withBias}`,
          cpu.matmul(ac, bc, withBias ? { ...args, bias: biasC } : args), gpu.matmul(ag, bg, withBias ? { ...args, bias: biasG } : args), 1e-5, 1e-4);
        for (const s of [ag, bg, biasG]) gpu.free(s);
      }), { numRuns: RUNS * 2 });
  });

  const ACTIVATIONS: MatmulActivation[] = ['gelu_erf', 'gelu_tanh', 'silu', 'relu'];

  backendTest('matmul activation epilogue: each activation x bias x transA/transB x batch, odd sizes, k = 0', async (gpu) => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(...ACTIVATIONS), dim(3), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 1, max: 70 }), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), seed,
      async (activation, batch, m, k, n, transA, transB, shareB, withBias, sd) => {
        const bBatchStride = shareB ? 0 : k * n;
        const [ac, ag] = both(gpu, randomF32(batch * m * k, sd));
        const [bc, bg] = both(gpu, randomF32((shareB ? 1 : batch) * k * n, sd + 1));
        const [biasC, biasG] = both(gpu, randomF32(n, sd + 2, -3, 3));
        const args = { batch, m, k, n, transA, transB, aBatchStride: m * k, bBatchStride, activation };
        await close(gpu, `matmul ${JSON.stringify(args)} bias ${withBias}`,
          cpu.matmul(ac, bc, withBias ? { ...args, bias: biasC } : args), gpu.matmul(ag, bg, withBias ? { ...args, bias: biasG } : args), 1e-5, 1e-4);
        for (const s of [ag, bg, biasG]) gpu.free(s);
      }), { numRuns: RUNS * 2 });
  });

  // --- fused nn kernels -----------------------------------------------------------------------

  backendTest('softmax / log-softmax and their gradients', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(6), fc.oneof(dim(20), fc.integer({ min: 60, max: 300 })), fc.boolean(), seed, async (rows, cols, log, sd) => {
      const [xc, xg] = both(gpu, randomF32(rows * cols, sd, -6, 6));
      const yc = cpu.softmax(xc, rows, cols, log), yg = gpu.softmax(xg, rows, cols, log);
      const [gc, gg] = both(gpu, randomF32(rows * cols, sd + 1));
      await close(gpu, `softmaxGrad log=${log} [${rows},${cols}]`, cpu.softmaxGrad(yc, gc, rows, cols, log), gpu.softmaxGrad(yg, gg, rows, cols, log), 1e-6, 1e-4);
      await close(gpu, `softmax log=${log} [${rows},${cols}]`, yc, yg, 1e-6, 1e-5);
      gpu.free(xg); gpu.free(gg);
    }), { numRuns: RUNS });
  });

  backendTest('normalize (layer and rms) and normalizeGrad', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(6), fc.oneof(dim(20), fc.integer({ min: 60, max: 300 })), fc.boolean(), seed, async (rows, cols, rms, sd) => {
      const [xc, xg] = both(gpu, spreadF32(rows * cols, sd));
      const c = cpu.normalize(xc, rows, cols, 1e-5, rms), g = gpu.normalize(xg, rows, cols, 1e-5, rms);
      const [gc, gg] = both(gpu, randomF32(rows * cols, sd + 1));
      await close(gpu, `normalizeGrad rms=${rms} [${rows},${cols}]`, cpu.normalizeGrad(c.y, c.rstd, gc, rows, cols, rms), gpu.normalizeGrad(g.y, g.rstd, gg, rows, cols, rms), 1e-5, 1e-4);
      await close(gpu, `normalize y rms=${rms}`, c.y, g.y, 1e-5, 1e-4);
      await close(gpu, `normalize mean rms=${rms}`, c.mean, g.mean, 1e-5, 1e-4);
      await close(gpu, `normalize rstd rms=${rms}`, c.rstd, g.rstd, 1e-5, 1e-4);
      gpu.free(xg); gpu.free(gg);
    }), { numRuns: RUNS });
  });

  backendTest('crossEntropy and crossEntropyGrad (with ignore_index rows)', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(8), fc.oneof(dim(20), fc.integer({ min: 60, max: 400 })), seed, async (rows, cols, sd) => {
      const [xc, xg] = both(gpu, randomF32(rows * cols, sd, -5, 5));
      const t = randomI32(rows, sd + 1, 0, cols);
      if (rows > 1) t[rows - 1] = -100;
      const [tc, tg] = both(gpu, t);
      const c = cpu.crossEntropy(xc, tc, rows, cols, -100), g = gpu.crossEntropy(xg, tg, rows, cols, -100);
      await close(gpu, `crossEntropy loss [${rows},${cols}]`, c.loss, g.loss, 1e-5, 1e-5);
      await close(gpu, 'crossEntropy valid', c.valid, g.valid, 0, 0);
      const [lc, lg] = both(gpu, randomF32(rows, sd + 2));
      await close(gpu, `crossEntropyGrad [${rows},${cols}]`, cpu.crossEntropyGrad(xc, tc, lc, rows, cols, -100), gpu.crossEntropyGrad(xg, tg, lg, rows, cols, -100), 1e-6, 1e-4);
      for (const s of [xg, tg, lg]) gpu.free(s);
    }), { numRuns: RUNS });
  });

  backendTest('attention and attentionGrad: causal, GQA, additive masks with batch/head strides, tq != tk', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(2), fc.constantFrom([1, 1], [2, 1], [4, 2], [3, 3]), dim(9), dim(9), fc.constantFrom(1, 4, 7, 16),
      fc.constantFrom(1, 5, 8), fc.boolean(), fc.constantFrom('none', 'per-batch', 'per-head', 'shared'), seed,
      async (batch, [heads, kvHeads], tq0, tk0, d, dv, causal, maskKind, sd) => {
        const tk = Math.max(tk0, tq0), tq = tq0; // causal needs tk >= tq to leave every row a key
        const args: AttentionArgs = { batch, heads: heads!, kvHeads: kvHeads!, tq, tk, dim: d, dimV: dv, scale: 1 / Math.sqrt(d), causal, maskBatchStride: 0, maskHeadStride: 0 };
        const [qc, qg] = both(gpu, randomF32(batch * heads! * tq * d, sd));
        const [kc, kg] = both(gpu, randomF32(batch * kvHeads! * tk * d, sd + 1));
        const [vc, vg] = both(gpu, randomF32(batch * kvHeads! * tk * dv, sd + 2));
        let argsC = args, argsG = args;
        const frees: Storage[] = [qg, kg, vg];
        if (maskKind !== 'none') {
          const mb = maskKind === 'shared' ? 0 : maskKind === 'per-batch' ? tq * tk : heads! * tq * tk;
          const mh = maskKind === 'per-head' ? tq * tk : 0;
          const count = maskKind === 'shared' ? tq * tk : maskKind === 'per-batch' ? batch * tq * tk : batch * heads! * tq * tk;
          // Padding-style mask: -1e9 on some keys (never key 0, so no row is fully hidden) plus a small bias.
          const m = randomF32(count, sd + 3, -1, 1).map((v, i) => (i % tk !== 0 && v > 0.6 ? -1e9 : v * 0.5));
          const [mc, mg] = both(gpu, m);
          argsC = { ...args, mask: mc, maskBatchStride: mb, maskHeadStride: mh };
          argsG = { ...args, mask: mg, maskBatchStride: mb, maskHeadStride: mh };
          frees.push(mg);
        }
        const c = cpu.attention(qc, kc, vc, argsC), g = gpu.attention(qg, kg, vg, argsG);
        const [goc, gog] = both(gpu, randomF32(batch * heads! * tq * dv, sd + 4));
        const gc = cpu.attentionGrad(qc, kc, vc, c.out, c.lse, goc, argsC), gg = gpu.attentionGrad(qg, kg, vg, g.out, g.lse, gog, argsG);
        const what = `attention ${JSON.stringify({ ...args, maskKind })}`;
        await close(gpu, `${what} gq`, gc.gq, gg.gq, 1e-5, 1e-3);
        await close(gpu, `${what} gk`, gc.gk, gg.gk, 1e-5, 1e-3);
        await close(gpu, `${what} gv`, gc.gv, gg.gv, 1e-5, 1e-3);
        await close(gpu, `${what} out`, c.out, g.out, 1e-5, 1e-4);
        await close(gpu, `${what} lse`, c.lse, g.lse, 1e-5, 1e-5);
        for (const s of [...frees, gog]) gpu.free(s);
      }), { numRuns: RUNS * 2 });
  });

  backendTest('attention: a fully masked row gives out 0 and lse -inf (and zero gradients)', async (gpu) => {
    const args: AttentionArgs = { batch: 1, heads: 1, kvHeads: 1, tq: 2, tk: 3, dim: 4, dimV: 4, scale: 0.5, causal: false, maskBatchStride: 0, maskHeadStride: 0 };
    const mask = new Float32Array([0, 0, 0, -Infinity, -Infinity, -Infinity]);
    const [qc, qg] = both(gpu, randomF32(8, 1)), [kc, kg] = both(gpu, randomF32(12, 2)), [vc, vg] = both(gpu, randomF32(12, 3));
    const [mc, mg] = both(gpu, mask);
    const c = cpu.attention(qc, kc, vc, { ...args, mask: mc }), g = gpu.attention(qg, kg, vg, { ...args, mask: mg });
    const [goc, gog] = both(gpu, randomF32(8, 4));
    const gc = cpu.attentionGrad(qc, kc, vc, c.out, c.lse, goc, { ...args, mask: mc });
    const gg = gpu.attentionGrad(qg, kg, vg, g.out, g.lse, gog, { ...args, mask: mg });
    await close(gpu, 'masked gq', gc.gq, gg.gq, 1e-5, 1e-4);
    await close(gpu, 'masked gk', gc.gk, gg.gk, 1e-5, 1e-4);
    await close(gpu, 'masked out', c.out, g.out, 1e-6, 1e-5);
    await close(gpu, 'masked lse', c.lse, g.lse, 1e-6, 1e-5);
  });

  backendTest('rope and its inverse', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(2), dim(3), dim(7), fc.constantFrom(2, 4, 6, 16), fc.boolean(), seed, async (b, h, t, d, inverse, sd) => {
      const [xc, xg] = both(gpu, randomF32(b * h * t * d, sd));
      const [cc, cg] = both(gpu, randomF32(b * t * d, sd + 1, -1, 1));
      const [sc, sg] = both(gpu, randomF32(b * t * d, sd + 2, -1, 1));
      await close(gpu, `rope [${b},${h},${t},${d}] inverse ${inverse}`, cpu.rope(xc, cc, sc, b, h, t, d, inverse), gpu.rope(xg, cg, sg, b, h, t, d, inverse), 1e-6, 1e-5);
      for (const s of [xg, cg, sg]) gpu.free(s);
    }), { numRuns: RUNS });
  });

  const convArgs = fc.record({
    n: dim(2), c: dim(3), h: dim(9), w: dim(9), o: dim(4), kh: dim(3), kw: dim(3), strideH: dim(2), strideW: dim(3),
    padTop: fc.nat(2), padBottom: fc.nat(2), padLeft: fc.nat(2), padRight: fc.nat(1),
  }).map((a): Conv2dArgs => ({
    ...a,
    oh: Math.floor((a.h + a.padTop + a.padBottom - a.kh) / a.strideH) + 1,
    ow: Math.floor((a.w + a.padLeft + a.padRight - a.kw) / a.strideW) + 1,
  })).filter((a) => a.oh > 0 && a.ow > 0);

  backendTest('conv2d (+bias), conv2dGradInput, conv2dGradWeight with strides and asymmetric padding', async (gpu) => {
    await fc.assert(fc.asyncProperty(convArgs, fc.boolean(), seed, async (a, withBias, sd) => {
      const [xc, xg] = both(gpu, randomF32(a.n * a.c * a.h * a.w, sd));
      const [wc, wg] = both(gpu, randomF32(a.o * a.c * a.kh * a.kw, sd + 1));
      const [bc, bg] = both(gpu, randomF32(a.o, sd + 2));
      const what = JSON.stringify(a);
      await close(gpu, `conv2d ${what}`, cpu.conv2d(xc, wc, withBias ? bc : undefined, a), gpu.conv2d(xg, wg, withBias ? bg : undefined, a), 1e-5, 1e-4);
      const [gc, gg] = both(gpu, randomF32(a.n * a.o * a.oh * a.ow, sd + 3));
      await close(gpu, `conv2dGradInput ${what}`, cpu.conv2dGradInput(gc, wc, a), gpu.conv2dGradInput(gg, wg, a), 1e-5, 1e-4);
      await close(gpu, `conv2dGradWeight ${what}`, cpu.conv2dGradWeight(xc, gc, a), gpu.conv2dGradWeight(xg, gg, a), 1e-5, 1e-4);
      for (const s of [xg, wg, bg, gg]) gpu.free(s);
    }), { numRuns: RUNS });
  });

  backendTest('random: uniform bit-identical to random_bits.ts, normal within float32 rounding', async (gpu) => {
    await fc.assert(fc.asyncProperty(dim(3000), fc.nat(), fc.nat(), async (n, key, counter) => {
      await close(gpu, `uniform key ${key} counter ${counter}`, cpu.random(n, 'uniform', key, counter), gpu.random(n, 'uniform', key, counter), 0, 0);
      // Box-Muller's sqrt(-2 ln u1) is ill-conditioned as u1 -> 1: float32 log there is off by
      // ~6e-8 absolute, which sqrt turns into up to ~3.5e-4 on values that small.
      await close(gpu, `normal key ${key} counter ${counter}`, cpu.random(n, 'normal', key, counter), gpu.random(n, 'normal', key, counter), 5e-4, 2e-5);
    }), { numRuns: RUNS });
  });

  backendTest('adamwInPlace over several steps', async (gpu) => {
    // Large sizes too: WebGPU updates 4-aligned ranges of >= 16384 elements as vec4.
    await fc.assert(fc.asyncProperty(fc.oneof(dim(1000), fc.constantFrom(16384, 20000, 65539)), seed, fc.constantFrom(0, 0.01), async (n, sd, weightDecay) => {
      const [pc, pg] = both(gpu, randomF32(n, sd));
      const [mc, mg] = both(gpu, new Float32Array(n));
      const [vc, vg] = both(gpu, new Float32Array(n));
      for (let step = 1; step <= 3; step++) {
        const [gc, gg] = both(gpu, randomF32(n, sd + step));
        const args = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, step };
        cpu.adamwInPlace(pc, gc, mc, vc, args);
        gpu.adamwInPlace(pg, gg, mg, vg, args);
        gpu.free(gg);
      }
      await close(gpu, 'adamw param', pc, pg, 1e-6, 1e-5);
      await close(gpu, 'adamw m', mc, mg, 1e-7, 1e-5);
      await close(gpu, 'adamw v', vc, vg, 1e-9, 1e-5);
    }), { numRuns: RUNS });
  });

  backendTest('combineRows with 1 to 3 inputs (diffusion steps)', async (gpu) => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 3 }), fc.nat(), async (rows, cols, k, seed) => {
      const xs = Array.from({ length: k }, (_, i) => both(gpu, randomF32(rows * cols, seed + i)));
      const cs = Array.from({ length: k }, (_, i) => both(gpu, randomF32(rows, seed + 10 + i)));
      const ref = cpu.combineRows(xs.map((x) => x[0]), cs.map((c) => c[0]), rows, cols);
      const got = gpu.combineRows(xs.map((x) => x[1]), cs.map((c) => c[1]), rows, cols);
      await close(gpu, 'combineRows', ref, got, 1e-6, 1e-5);
    }), { numRuns: RUNS });
  });
}
