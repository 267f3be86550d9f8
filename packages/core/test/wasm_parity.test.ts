// Parity of the wasm backend with the CPU reference, op by op at the Backend interface: the
// same inputs go to both, outputs must agree within a per-op tolerance. Shapes come from
// fast-check and include sizes that are not multiples of the kernels' tiles, size-1 and
// broadcast dims, batches and masks. The backend runs with two threads, and the large-shape
// cases below cross the size where work is split across the worker pool. (`gpu` in the shared
// helpers is the backend under test.)
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import type { Backend, BinaryOp, DType, Storage, UnaryOp, DifferentiableUnaryOp, AttentionArgs, Conv2dArgs } from '../src/backend.ts';
import { createCpuBackend } from '../src/backends/cpu/index.ts';
import { createWasmBackend, isCpuEmulatedAdapter, WasmOutOfMemoryError } from '../src/backends/wasm/index.ts';

const cpu = createCpuBackend();
const wasm = createWasmBackend({ threads: 2 });
after(() => wasm.close());
const RUNS = Number(process.env.WASM_PARITY_RUNS ?? 25);

function wasmTest(name: string, fn: (gpu: Backend) => Promise<void>): void {
  test(`wasm parity: ${name}`, async () => { await fn(wasm); });
}

// --- helpers ------------------------------------------------------------------------------

function randomF32(n: number, seed: number, lo = -2, hi = 2): Float32Array {
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
function spreadF32(n: number, seed: number): Float32Array {
  const r = randomF32(n, seed, 0, 1), order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a]! - r[b]!);
  const out = new Float32Array(n);
  order.forEach((pos, rank) => { out[pos] = -3 + 0.25 * rank; });
  return out;
}

function randomI32(n: number, seed: number, lo: number, hi: number): Int32Array {
  const f = randomF32(n, seed, 0, 1);
  return Int32Array.from(f, (v) => lo + Math.min(hi - lo - 1, Math.floor(v * (hi - lo))));
}

/** Uploads the same data to both backends. */
function both(gpu: Backend, data: Float32Array | Int32Array): [Storage, Storage] {
  return [cpu.fromArray(data.slice()), gpu.fromArray(data.slice())];
}

async function close(gpu: Backend, what: string, ref: Storage, got: Storage, atol: number, rtol: number): Promise<void> {
  const want = await cpu.read(ref);
  const have = await gpu.read(got);
  gpu.free(got);
  assert.equal(have.length, want.length, `${what}: length`);
  assert.equal(have instanceof Int32Array, want instanceof Int32Array, `${what}: dtype`);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!, h = have[i]!;
    if (Number.isNaN(w) && Number.isNaN(h)) continue;
    if (w === h) continue;
    const ok = Math.abs(w - h) <= atol + rtol * Math.abs(w);
    if (!ok) assert.fail(`${what}: element ${i} of ${want.length}: wasm ${h} vs cpu ${w} (atol ${atol}, rtol ${rtol})`);
  }
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const dim = (max: number) => fc.integer({ min: 1, max });
const seed = fc.integer({ min: 1, max: 1 << 30 });

// --- elementwise --------------------------------------------------------------------------

const UNARY: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'tanh', 'sigmoid', 'silu', 'gelu_erf', 'gelu_tanh',
  'relu', 'sin', 'cos', 'square', 'reciprocal', 'sign'];
const POSITIVE_ONLY = new Set<UnaryOp>(['log', 'sqrt', 'rsqrt', 'reciprocal']);

wasmTest('unary and unaryGrad (all ops, float32; neg/abs/sign/square on int32)', async (gpu) => {
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

wasmTest('binary with broadcasting (float32, int32, comparisons to either dtype)', async (gpu) => {
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

wasmTest('where, cast, fill', async (gpu) => {
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

wasmTest('gatherStrided and scatterStridedInto (permute, step, flip, broadcast)', async (gpu) => {
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

wasmTest('reduce sum/max/min/argmax/argmin over [outer, len, inner] (short and long rows, int32)', async (gpu) => {
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

wasmTest('indexSelect, indexAdd (repeated ids), takeAlongAxis, takeAlongAxisGrad', async (gpu) => {
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

wasmTest('matmul: batch (incl. stride-0 operands), transA/transB, bias, odd sizes', async (gpu) => {
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

// --- fused nn kernels -----------------------------------------------------------------------

wasmTest('softmax / log-softmax and their gradients', async (gpu) => {
  await fc.assert(fc.asyncProperty(dim(6), fc.oneof(dim(20), fc.integer({ min: 60, max: 300 })), fc.boolean(), seed, async (rows, cols, log, sd) => {
    const [xc, xg] = both(gpu, randomF32(rows * cols, sd, -6, 6));
    const yc = cpu.softmax(xc, rows, cols, log), yg = gpu.softmax(xg, rows, cols, log);
    const [gc, gg] = both(gpu, randomF32(rows * cols, sd + 1));
    await close(gpu, `softmaxGrad log=${log} [${rows},${cols}]`, cpu.softmaxGrad(yc, gc, rows, cols, log), gpu.softmaxGrad(yg, gg, rows, cols, log), 1e-6, 1e-4);
    await close(gpu, `softmax log=${log} [${rows},${cols}]`, yc, yg, 1e-6, 1e-5);
    gpu.free(xg); gpu.free(gg);
  }), { numRuns: RUNS });
});

wasmTest('normalize (layer and rms) and normalizeGrad', async (gpu) => {
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

wasmTest('crossEntropy and crossEntropyGrad (with ignore_index rows)', async (gpu) => {
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

wasmTest('attention and attentionGrad: causal, GQA, additive masks with batch/head strides, tq != tk', async (gpu) => {
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

wasmTest('attention: a fully masked row gives out 0 and lse -inf (and zero gradients)', async (gpu) => {
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

wasmTest('rope and its inverse', async (gpu) => {
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

wasmTest('conv2d (+bias), conv2dGradInput, conv2dGradWeight with strides and asymmetric padding', async (gpu) => {
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

wasmTest('random: uniform bit-identical to random_bits.ts, normal within float32 rounding', async (gpu) => {
  await fc.assert(fc.asyncProperty(dim(3000), fc.nat(), fc.nat(), async (n, key, counter) => {
    await close(gpu, `uniform key ${key} counter ${counter}`, cpu.random(n, 'uniform', key, counter), gpu.random(n, 'uniform', key, counter), 0, 0);
    await close(gpu, `normal key ${key} counter ${counter}`, cpu.random(n, 'normal', key, counter), gpu.random(n, 'normal', key, counter), 2e-5, 2e-5);
  }), { numRuns: RUNS });
});

wasmTest('adamwInPlace over several steps', async (gpu) => {
  await fc.assert(fc.asyncProperty(dim(1000), seed, fc.constantFrom(0, 0.01), async (n, sd, weightDecay) => {
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

// --- wasm-specific: threads, memory, fallbacks --------------------------------------------------

wasmTest('matmul large enough to split across threads (along M and along the batch), all transposes', async (gpu) => {
  for (const [batch, m, k, n] of [[1, 203, 300, 131], [3, 64, 257, 72], [1, 517, 33, 9], [5, 9, 600, 260]] as const) {
    for (const transA of [false, true]) for (const transB of [false, true]) {
      const withBias = transA !== transB;
      const [ac, ag] = both(gpu, randomF32(batch * m * k, m + k));
      const [bc, bg] = both(gpu, randomF32(batch * k * n, n + k));
      const [biasC, biasG] = both(gpu, randomF32(n, 7));
      const args = { batch, m, k, n, transA, transB, aBatchStride: m * k, bBatchStride: k * n };
      await close(gpu, `matmul ${JSON.stringify(args)}`, cpu.matmul(ac, bc, withBias ? { ...args, bias: biasC } : args),
        gpu.matmul(ag, bg, withBias ? { ...args, bias: biasG } : args), 1e-4, 1e-4);
      for (const s of [ag, bg, biasG]) gpu.free(s);
    }
  }
});

test('wasm: memory accounting returns to the baseline, freed blocks are reused', () => {
  const before = wasm.memory();
  const a = wasm.zeros(1000, 'float32'), b = wasm.fill(10, 'int32', 3);
  assert.equal(wasm.memory().liveStorages, before.liveStorages + 2);
  assert.equal(wasm.memory().liveBytes, before.liveBytes + 4040);
  wasm.free(a); wasm.free(b);
  assert.deepEqual({ ...wasm.memory(), pooledBytes: 0 }, { ...before, pooledBytes: 0 });
  const heapBefore = Number(wasm.info().details!['heap bytes']);
  for (let i = 0; i < 200; i++) wasm.free(wasm.zeros(1 << 18, 'float32'));
  assert.equal(Number(wasm.info().details!['heap bytes']), heapBefore, 'a freed 1 MiB block is reused, not regrown');
  const z = wasm.zeros(1 << 18, 'float32');
  assert.ok((wasm.readSync(z) as Float32Array).every((v) => v === 0), 'zeros() clears a reused block');
  wasm.free(z);
});

test('wasm: allocating past the maximum memory is a clear error naming the size and what is live', () => {
  const small = createWasmBackend({ threads: 1, initialMemoryBytes: 2 ** 21, maximumMemoryBytes: 2 ** 23 });
  try {
    const keep = small.zeros(1 << 20, 'float32');
    assert.throws(() => small.zeros(3 << 20, 'float32'), (e: unknown) => e instanceof WasmOutOfMemoryError &&
      /12582912 bytes/.test(e.message) && /1 storages/.test(e.message));
    small.free(keep);
  } finally { small.close(); }
});

test('wasm: ops without a native kernel are counted in info().details', () => {
  const fresh = createWasmBackend({ threads: 1 });
  try {
    const x = fresh.fromArray(new Float32Array([1, 2, 3, 4]));
    fresh.free(fresh.reduce('argmax', x, { outer: 1, len: 4, inner: 1 }));
    fresh.free(fresh.reduce('argmax', x, { outer: 1, len: 4, inner: 1 }));
    const d = fresh.info().details!;
    assert.equal(d['fallback.reduce.argmax'], '2');
    assert.match(d.fallbacks!, /reduce\.argmax:2/);
  } finally { fresh.close(); }
});

test('wasm: CPU-emulated WebGPU adapters are recognised', () => {
  assert.equal(isCpuEmulatedAdapter({ isFallbackAdapter: true }), true);
  assert.equal(isCpuEmulatedAdapter({ info: { vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)', description: '' } }), true);
  assert.equal(isCpuEmulatedAdapter({ info: { vendor: 'google', description: 'SwiftShader Device (Subzero)' } }), true);
  assert.equal(isCpuEmulatedAdapter({ isFallbackAdapter: false, info: { vendor: 'nvidia', architecture: 'ampere', device: 'NVIDIA GeForce RTX 3080' } }), false);
  // The WebGPU backend's info().details form (all strings).
  assert.equal(isCpuEmulatedAdapter({ backend: 'dawn-vulkan', vendor: 'mesa', device: 'llvmpipe (LLVM 19.1.7, 256 bits)', isFallbackAdapter: 'false' } as Record<string, string>), true);
  assert.equal(isCpuEmulatedAdapter({ vendor: 'amd', device: 'AMD Radeon', isFallbackAdapter: 'false' }), false);
});

wasmTest('conv2d and gradients at sizes split across threads (3x3 pad 1, 5x5 stride 2, 1x1)', async (gpu) => {
  for (const [c, o, h, w, k, s, p] of [[16, 24, 20, 21, 3, 1, 1], [8, 12, 33, 30, 5, 2, 2], [32, 16, 14, 14, 1, 1, 0]] as const) {
    const a: Conv2dArgs = { n: 3, c, h, w, o, kh: k, kw: k, strideH: s, strideW: s, padTop: p, padBottom: p, padLeft: p, padRight: p,
      oh: Math.floor((h + 2 * p - k) / s) + 1, ow: Math.floor((w + 2 * p - k) / s) + 1 };
    const [xc, xg] = both(gpu, randomF32(a.n * c * h * w, 1));
    const [wc, wg] = both(gpu, randomF32(o * c * k * k, 2));
    const [bc, bg] = both(gpu, randomF32(o, 3));
    const [gc, gg] = both(gpu, randomF32(a.n * o * a.oh * a.ow, 4));
    const what = JSON.stringify(a);
    await close(gpu, `conv2d ${what}`, cpu.conv2d(xc, wc, bc, a), gpu.conv2d(xg, wg, bg, a), 1e-4, 1e-4);
    await close(gpu, `conv2dGradInput ${what}`, cpu.conv2dGradInput(gc, wc, a), gpu.conv2dGradInput(gg, wg, a), 1e-4, 1e-4);
    await close(gpu, `conv2dGradWeight ${what}`, cpu.conv2dGradWeight(xc, gc, a), gpu.conv2dGradWeight(xg, gg, a), 1e-4, 1e-4);
    for (const st of [xg, wg, bg, gg]) gpu.free(st);
  }
});

wasmTest('large strided gathers split across threads (permute, step and flip, broadcast) and a scatter', async (gpu) => {
  const base = [8, 64, 16, 40], size = numel(base);
  const [xc, xg] = both(gpu, randomF32(size, 9));
  const views = [
    { shape: [8, 16, 64, 40], strides: [40960, 40, 640, 1], offset: 0 }, // permute (0, 2, 1, 3)
    { shape: [8, 40, 16, 32], strides: [40960, -1, 40, 1280], offset: 39 }, // flip + step 2 on dim 1
    { shape: [3, 8, 64, 640], strides: [0, 40960, 640, 1], offset: 0 }, // broadcast
  ];
  for (const view of views) await close(gpu, `gather ${JSON.stringify(view)}`, cpu.gatherStrided(xc, view), gpu.gatherStrided(xg, view), 0, 0);
  const view = views[0]!;
  const [sc, sg] = both(gpu, randomF32(size, 10));
  cpu.scatterStridedInto(xc, view, sc);
  gpu.scatterStridedInto(xg, view, sg);
  await close(gpu, 'scatter permute', xc, xg, 0, 0);
  gpu.free(sg);
  assert.ok((wasm.nativeCounts().gatherStrided ?? 0) > 0);
});

wasmTest('reductions: long rows (compensated sums), column sums split across threads, NaN in max/min', async (gpu) => {
  const cases: Array<[number, number, number]> = [[1, 1 << 20, 1], [7, 5000, 1], [1, 700, 515], [5, 300, 200]];
  for (const [outer, len, inner] of cases) {
    const shape = { outer, len, inner };
    const data = randomF32(outer * len * inner, len, 0, 1);
    const [xc, xg] = both(gpu, data);
    await close(gpu, `reduce sum ${JSON.stringify(shape)}`, cpu.reduce('sum', xc, shape), gpu.reduce('sum', xg, shape), 0, 2e-7);
    data[3] = NaN;
    const [nc, ng] = both(gpu, data);
    for (const op of ['max', 'min'] as const) await close(gpu, `reduce ${op} ${JSON.stringify(shape)}`, cpu.reduce(op, nc, shape), gpu.reduce(op, ng, shape), 0, 0);
    gpu.free(xg); gpu.free(ng);
  }
  assert.ok((wasm.nativeCounts()['reduce.sum'] ?? 0) > 0);
});

wasmTest('large elementwise, row and AdamW ops (split across threads), and they ran natively', async (gpu) => {
  const rows = 257, cols = 515, n = rows * cols;
  const [xc, xg] = both(gpu, randomF32(n, 1, -6, 6));
  const [yc, yg] = both(gpu, randomF32(n, 2));
  const [bc, bg] = both(gpu, randomF32(cols, 3));
  const [mc, mg] = both(gpu, randomF32(3 * 1 * rows * cols, 4));
  for (const op of ['add', 'sub', 'mul', 'max'] as const) {
    await close(gpu, `binary ${op} same shape`, cpu.binary(op, xc, [rows, cols], yc, [rows, cols], [rows, cols], 'float32'),
      gpu.binary(op, xg, [rows, cols], yg, [rows, cols], [rows, cols], 'float32'), 1e-6, 1e-6);
    await close(gpu, `binary ${op} row broadcast`, cpu.binary(op, xc, [rows, cols], bc, [1, cols], [rows, cols], 'float32'),
      gpu.binary(op, xg, [rows, cols], bg, [1, cols], [rows, cols], 'float32'), 1e-6, 1e-6);
    await close(gpu, `binary ${op} 3-d broadcast`, cpu.binary(op, mc, [3, 1, rows, cols], xc, [1, 1, rows, cols], [3, 1, rows, cols], 'float32'),
      gpu.binary(op, mg, [3, 1, rows, cols], xg, [1, 1, rows, cols], [3, 1, rows, cols], 'float32'), 1e-6, 1e-6);
  }
  for (const op of ['exp', 'silu', 'relu', 'sigmoid', 'tanh', 'gelu_tanh', 'gelu_erf'] as const) {
    await close(gpu, `unary ${op}`, cpu.unary(op, xc), gpu.unary(op, xg), 2e-6, 2e-5);
    await close(gpu, `unaryGrad ${op}`, cpu.unaryGrad(op, xc, yc), gpu.unaryGrad(op, xg, yg), 2e-6, 5e-5);
  }
  for (const log of [false, true]) {
    const sc = cpu.softmax(xc, rows, cols, log), sg = gpu.softmax(xg, rows, cols, log);
    await close(gpu, `softmaxGrad log=${log}`, cpu.softmaxGrad(sc, yc, rows, cols, log), gpu.softmaxGrad(sg, yg, rows, cols, log), 1e-6, 1e-4);
    await close(gpu, `softmax log=${log}`, sc, sg, 1e-6, 1e-5);
  }
  const nc = cpu.normalize(xc, rows, cols, 1e-5, false), ng = gpu.normalize(xg, rows, cols, 1e-5, false);
  await close(gpu, 'normalizeGrad', cpu.normalizeGrad(nc.y, nc.rstd, yc, rows, cols, false), gpu.normalizeGrad(ng.y, ng.rstd, yg, rows, cols, false), 1e-5, 1e-4);
  await close(gpu, 'normalize y', nc.y, ng.y, 1e-5, 1e-4);
  const [tc, tg] = both(gpu, randomI32(rows, 5, 0, cols));
  const [lc, lg] = both(gpu, randomF32(rows, 6));
  await close(gpu, 'crossEntropy', cpu.crossEntropy(xc, tc, rows, cols, -100).loss, gpu.crossEntropy(xg, tg, rows, cols, -100).loss, 1e-5, 1e-5);
  await close(gpu, 'crossEntropyGrad', cpu.crossEntropyGrad(xc, tc, lc, rows, cols, -100), gpu.crossEntropyGrad(xg, tg, lg, rows, cols, -100), 1e-6, 1e-4);
  for (const inverse of [false, true]) {
    const [rb, rh, rt, rd] = [2, 8, 128, 64];
    const [qc, qg] = both(gpu, randomF32(rb * rh * rt * rd, 11)), [cc, cg] = both(gpu, randomF32(rb * rt * rd, 12)), [sc, sg] = both(gpu, randomF32(rb * rt * rd, 13));
    await close(gpu, `rope inverse ${inverse}`, cpu.rope(qc, cc, sc, rb, rh, rt, rd, inverse), gpu.rope(qg, cg, sg, rb, rh, rt, rd, inverse), 1e-6, 1e-5);
    for (const st of [qg, cg, sg]) gpu.free(st);
  }
  const [pc, pg] = both(gpu, randomF32(n, 7));
  const [m1c, m1g] = both(gpu, new Float32Array(n)), [v1c, v1g] = both(gpu, new Float32Array(n));
  const args = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
  cpu.adamwInPlace(pc, yc, m1c, v1c, args); gpu.adamwInPlace(pg, yg, m1g, v1g, args);
  await close(gpu, 'adamw param', pc, pg, 1e-6, 1e-5);
  const native = wasm.nativeCounts();
  for (const op of ['binary.add', 'unary.exp', 'unaryGrad.silu', 'unary.gelu_erf', 'unaryGrad.gelu_tanh', 'softmax', 'softmaxGrad', 'normalize', 'normalizeGrad', 'crossEntropy', 'crossEntropyGrad', 'adamwInPlace', 'matmul', 'attention', 'attentionGrad', 'conv2d', 'conv2dGradInput', 'conv2dGradWeight', 'rope']) {
    assert.ok((native[op] ?? 0) > 0, `${op} ran natively`);
  }
});

wasmTest('attention at a size split across threads and query blocks (causal and masked, GQA)', async (gpu) => {
  for (const [causal, masked] of [[true, false], [false, true]] as const) {
    const batch = 2, heads = 4, kvHeads = 2, tq = 150, tk = 170, d = 24, dv = 20;
    const args: AttentionArgs = { batch, heads, kvHeads, tq, tk, dim: d, dimV: dv, scale: 1 / Math.sqrt(d), causal, maskBatchStride: tq * tk, maskHeadStride: 0 };
    const [qc, qg] = both(gpu, randomF32(batch * heads * tq * d, 1));
    const [kc, kg] = both(gpu, randomF32(batch * kvHeads * tk * d, 2));
    const [vc, vg] = both(gpu, randomF32(batch * kvHeads * tk * dv, 3));
    const [mc, mg] = both(gpu, randomF32(batch * tq * tk, 4).map((v, i) => (i % tk !== 0 && v > 1.2 ? -1e9 : v)));
    const argsC = masked ? { ...args, mask: mc } : args, argsG = masked ? { ...args, mask: mg } : args;
    const c = cpu.attention(qc, kc, vc, argsC), g = gpu.attention(qg, kg, vg, argsG);
    const [goc, gog] = both(gpu, randomF32(batch * heads * tq * dv, 5));
    const gc = cpu.attentionGrad(qc, kc, vc, c.out, c.lse, goc, argsC), gg = gpu.attentionGrad(qg, kg, vg, g.out, g.lse, gog, argsG);
    await close(gpu, `causal ${causal} gq`, gc.gq, gg.gq, 1e-5, 1e-3);
    await close(gpu, `causal ${causal} gk`, gc.gk, gg.gk, 1e-5, 1e-3);
    await close(gpu, `causal ${causal} gv`, gc.gv, gg.gv, 1e-5, 1e-3);
    await close(gpu, `causal ${causal} out`, c.out, g.out, 1e-5, 1e-4);
    await close(gpu, `causal ${causal} lse`, c.lse, g.lse, 1e-5, 1e-5);
    for (const s of [qg, kg, vg, mg, gog]) gpu.free(s);
  }
});

wasmTest('causal attention with tq > tk (leading query rows see no key) and with blocks that skip hidden keys', async (gpu) => {
  for (const [tq, tk] of [[5, 3], [150, 100], [130, 130]] as const) {
    const args: AttentionArgs = { batch: 1, heads: 2, kvHeads: 1, tq, tk, dim: 8, dimV: 8, scale: 0.35, causal: true, maskBatchStride: 0, maskHeadStride: 0 };
    const [qc, qg] = both(gpu, randomF32(2 * tq * 8, 1)), [kc, kg] = both(gpu, randomF32(tk * 8, 2)), [vc, vg] = both(gpu, randomF32(tk * 8, 3));
    const c = cpu.attention(qc, kc, vc, args), g = gpu.attention(qg, kg, vg, args);
    const [goc, gog] = both(gpu, randomF32(2 * tq * 8, 4));
    const gc = cpu.attentionGrad(qc, kc, vc, c.out, c.lse, goc, args), gg = gpu.attentionGrad(qg, kg, vg, g.out, g.lse, gog, args);
    await close(gpu, `tq ${tq} tk ${tk} gq`, gc.gq, gg.gq, 1e-5, 1e-3);
    await close(gpu, `tq ${tq} tk ${tk} gk`, gc.gk, gg.gk, 1e-5, 1e-3);
    await close(gpu, `tq ${tq} tk ${tk} gv`, gc.gv, gg.gv, 1e-5, 1e-3);
    await close(gpu, `tq ${tq} tk ${tk} out`, c.out, g.out, 1e-5, 1e-4);
    await close(gpu, `tq ${tq} tk ${tk} lse`, c.lse, g.lse, 1e-5, 1e-5);
    for (const s of [qg, kg, vg, gog]) gpu.free(s);
  }
});

test('wasm parity with relaxed SIMD (fused multiply-add) for matmul and attention', async (t) => {
  const relaxed = createWasmBackend({ threads: 2, relaxedSimd: true });
  try {
    if (!relaxed.rt.opts.relaxedSimd) { t.skip('this engine has no relaxed SIMD'); return; }
    const [ac, ag] = [cpu.fromArray(randomF32(130 * 300, 1)), relaxed.fromArray(randomF32(130 * 300, 1))];
    const [bc, bg] = [cpu.fromArray(randomF32(300 * 77, 2)), relaxed.fromArray(randomF32(300 * 77, 2))];
    const args = { batch: 1, m: 130, k: 300, n: 77, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
    await close(relaxed, 'relaxed matmul', cpu.matmul(ac, bc, args), relaxed.matmul(ag, bg, args), 1e-4, 1e-4);
    const aa: AttentionArgs = { batch: 1, heads: 2, kvHeads: 2, tq: 70, tk: 90, dim: 16, dimV: 16, scale: 0.25, causal: true, maskBatchStride: 0, maskHeadStride: 0 };
    const q = randomF32(2 * 70 * 16, 3), k = randomF32(2 * 90 * 16, 4), v = randomF32(2 * 90 * 16, 5);
    const c = cpu.attention(cpu.fromArray(q), cpu.fromArray(k), cpu.fromArray(v), aa);
    const g = relaxed.attention(relaxed.fromArray(q), relaxed.fromArray(k), relaxed.fromArray(v), aa);
    await close(relaxed, 'relaxed attention out', c.out, g.out, 1e-5, 1e-4);
    await close(relaxed, 'relaxed attention lse', c.lse, g.lse, 1e-5, 1e-5);
  } finally { relaxed.close(); }
});

test('wasm: an out-of-range index throws the reference error and leaks nothing', () => {
  const x = wasm.fromArray(new Float32Array(12)), ids = wasm.fromArray(new Int32Array([0, 5]));
  const before = wasm.memory().liveStorages;
  assert.throws(() => wasm.indexSelect(x, { outer: 1, len: 4, inner: 3 }, ids), /index 5 is out of range/);
  assert.throws(() => wasm.crossEntropy(x, ids, 2, 4, -100), RangeError);
  assert.equal(wasm.memory().liveStorages, before);
  wasm.free(x); wasm.free(ids);
});
