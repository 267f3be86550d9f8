// Ops over the storage-binding limit: every op whose operands exceed one binding runs one
// dispatch per range of rows, outer slices, images, (batch, head) slices or output elements,
// with windowed bindings. A 4 KiB binding limit (960 usable floats per window after alignment)
// makes small shapes split, with rows straddling window boundaries; every result is checked
// against the CPU reference, and what cannot split must say why.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import type { AttentionArgs, Backend, Conv2dArgs, ReduceOp, ReduceShape, Storage, StridedView } from '../src/backend.ts';
import { createCpuBackend } from '../src/backends/cpu/index.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../src/backends/webgpu/index.ts';
import type { WebGPURuntime } from '../src/backends/webgpu/runtime.ts';
import { broadcastHull, rowRanges, windowFits } from '../src/backends/webgpu/windows.ts';
import * as F from '../src/ops/index.ts';

const cpu = createCpuBackend();
const smallOrError: WebGPUBackend | Error = await createWebGPUBackend({ maxStorageBufferBindingSize: 4096 }).catch((e: unknown) => e as Error);

function gpuTest(name: string, fn: (gpu: WebGPUBackend) => Promise<void>): void {
  test(`webgpu split: ${name}`, async (t: TestContext) => {
    if (smallOrError instanceof Error) { t.skip(`no WebGPU adapter: ${smallOrError.message}`); return; }
    const before = smallOrError.rt.totalDispatches;
    await fn(smallOrError);
    assert.ok(smallOrError.rt.totalDispatches > before, 'dispatched');
  });
}

function ramp(n: number, scale = 1e-3, phase = 0): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + phase) * 3 + i * scale);
}

/** Runs the same op on both backends and compares every element. */
async function same(gpu: Backend, what: string, run: (be: Backend, up: (a: Float32Array | Int32Array) => Storage) => Storage, tol = 1e-5): Promise<void> {
  const want = await cpu.read(run(cpu, (a) => cpu.fromArray(a)));
  const have = await gpu.read(run(gpu, (a) => gpu.fromArray(a)));
  assert.equal(have.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!, h = have[i]!;
    if (Number.isNaN(w) && Number.isNaN(h)) continue;
    if (!(Math.abs(h - w) <= tol * (1 + Math.abs(w)))) assert.fail(`${what}: element ${i}: ${h} vs ${w}`);
  }
}

// rows x cols with cols not dividing the 960-float window: rows straddle window starts.
const ROW_SHAPES: [number, number][] = [[11, 300], [7, 517], [3, 959], [2500, 3]];

/** Runs a row-kernel test with a workgroup per row and with an invocation per row. */
async function bothRowMappings(gpu: WebGPUBackend, fn: () => Promise<void>): Promise<void> {
  for (const mode of ['workgroup', 'invocation'] as const) {
    gpu.rt.rowKernels = mode;
    try { await fn(); } finally { gpu.rt.rowKernels = 'auto'; }
  }
}

gpuTest('softmax, logSoftmax and their gradients', (gpu) => bothRowMappings(gpu, async () => {
  for (const [rows, cols] of ROW_SHAPES) {
    for (const log of [false, true]) {
      const x = ramp(rows * cols), g = ramp(rows * cols, -2e-3, 1);
      await same(gpu, `softmax ${rows}x${cols} log=${log}`, (be, up) => be.softmax(up(x), rows, cols, log));
      await same(gpu, `softmaxGrad ${rows}x${cols} log=${log}`, (be, up) => be.softmaxGrad(be.softmax(up(x), rows, cols, log), up(g), rows, cols, log), 1e-4);
    }
  }
}));

gpuTest('crossEntropy and crossEntropyGrad (ignored and out-of-range targets)', (gpu) => bothRowMappings(gpu, async () => {
  for (const [rows, cols] of ROW_SHAPES) {
    const x = ramp(rows * cols);
    const t = Int32Array.from({ length: rows }, (_, r) => (r % 5 === 3 ? -100 : (r * 131) % cols));
    const gl = ramp(rows, 0.01, 2);
    await same(gpu, `crossEntropy.loss ${rows}x${cols}`, (be, up) => be.crossEntropy(up(x), up(t), rows, cols, -100).loss, 1e-4);
    await same(gpu, `crossEntropy.valid ${rows}x${cols}`, (be, up) => be.crossEntropy(up(x), up(t), rows, cols, -100).valid, 0);
    await same(gpu, `crossEntropyGrad ${rows}x${cols}`, (be, up) => be.crossEntropyGrad(up(x), up(t), up(gl), rows, cols, -100), 1e-4);
  }
}));

gpuTest('normalize (layer and rms) and normalizeGrad', (gpu) => bothRowMappings(gpu, async () => {
  for (const [rows, cols] of ROW_SHAPES) {
    for (const rms of [false, true]) {
      const x = ramp(rows * cols), g = ramp(rows * cols, -2e-3, 1);
      for (const k of ['y', 'mean', 'rstd'] as const) {
        await same(gpu, `normalize.${k} ${rows}x${cols} rms=${rms}`, (be, up) => be.normalize(up(x), rows, cols, 1e-5, rms)[k], 1e-4);
      }
      await same(gpu, `normalizeGrad ${rows}x${cols} rms=${rms}`, (be, up) => {
        const { y, rstd } = be.normalize(up(x), rows, cols, 1e-5, rms);
        return be.normalizeGrad(y, rstd, up(g), rows, cols, rms);
      }, 2e-3); // 3-column rows: rstd amplifies float32 rounding of xhat
    }
  }
}));

gpuTest('reduce over outer ranges (row and column kernels, float and int)', async (gpu) => {
  const shapes: ReduceShape[] = [
    { outer: 9, len: 300, inner: 1 },   // reduce_rows
    { outer: 7, len: 20, inner: 37 },   // reduce_columns, 740 elements per slice
    { outer: 2000, len: 3, inner: 1 },  // the output is split too
    { outer: 3, len: 2, inner: 450 },
  ];
  const ops: ReduceOp[] = ['sum', 'max', 'min', 'argmax', 'argmin'];
  for (const shape of shapes) {
    const n = shape.outer * shape.len * shape.inner;
    const x = ramp(n);
    const xi = Int32Array.from(x, (v) => Math.round(v * 10));
    for (const op of ops) {
      await same(gpu, `reduce.${op} ${JSON.stringify(shape)}`, (be, up) => be.reduce(op, up(x), shape), 1e-4);
      await same(gpu, `reduce.${op} int ${JSON.stringify(shape)}`, (be, up) => be.reduce(op, up(xi), shape), 0);
    }
  }
});

gpuTest('takeAlongAxis and takeAlongAxisGrad', async (gpu) => {
  const cases: [ReduceShape, number][] = [
    [{ outer: 9, len: 300, inner: 1 }, 2],
    [{ outer: 5, len: 40, inner: 13 }, 3],
    [{ outer: 1500, len: 4, inner: 1 }, 2],
  ];
  for (const [shape, k] of cases) {
    const { outer, len, inner } = shape;
    const x = ramp(outer * len * inner);
    const idx = Int32Array.from({ length: outer * k * inner }, (_, i) => ((i * 7919) % len));
    const g = ramp(outer * k * inner, 0.01, 1);
    await same(gpu, `takeAlongAxis ${JSON.stringify(shape)} k ${k}`, (be, up) => be.takeAlongAxis(up(x), shape, up(idx), k), 0);
    await same(gpu, `takeAlongAxisGrad ${JSON.stringify(shape)} k ${k}`, (be, up) => be.takeAlongAxisGrad(up(g), shape, up(idx), k), 1e-6);
  }
});

gpuTest('where: same shapes and a broadcast operand that fits', async (gpu) => {
  const n = 5000;
  const c = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const a = ramp(n), b = ramp(n, -1e-3, 2);
  await same(gpu, 'where same shape', (be, up) => be.where(up(c), [n], up(a), [n], up(b), [n], [n]), 0);
  const rows = 50, cols = 100;
  const bias = ramp(cols, 0, 3);
  await same(gpu, 'where broadcast b', (be, up) => be.where(up(c), [rows, cols], up(a), [rows, cols], up(bias), [1, cols], [rows, cols]), 0);
  const ci = Int32Array.from(c);
  await same(gpu, 'where int cond', (be, up) => be.where(up(ci), [n], up(a), [n], up(b), [n], [n]), 0);
});

gpuTest('gatherStrided and scatterStridedInto: slices of a tensor over one binding', async (gpu) => {
  const n = 6000;
  const x = ramp(n);
  const views: StridedView[] = [
    { shape: [700], strides: [1], offset: 3001 },             // a contiguous slice (one last-token row of logits)
    { shape: [5000], strides: [1], offset: 999 },             // contiguous and over the limit itself
    { shape: [20, 100], strides: [250, 1], offset: 50 },      // column slice of [24, 250]
    { shape: [30, 100], strides: [-150, 1], offset: 29 * 150 }, // reversed rows
    { shape: [3, 1, 40, 25], strides: [2000, 0, 45, 2], offset: 3 }, // size-1 broadcast dim, inner stride 2
    { shape: [240, 24], strides: [1, 250], offset: 2 },      // a transpose: split over single rows of dim 0
  ];
  for (const view of views) {
    await same(gpu, `gatherStrided ${JSON.stringify(view)}`, (be, up) => be.gatherStrided(up(x), view), 0);
    const m = view.shape.reduce((p, q) => p * q, 1);
    const src = ramp(m, 0, 5);
    await same(gpu, `scatterStridedInto ${JSON.stringify(view)}`, (be, up) => {
      const dst = up(x);
      be.scatterStridedInto(dst, view, up(src));
      return dst;
    }, 0);
  }
});

gpuTest('a single row over the limit is still rejected with the op named', async (gpu) => {
  const x = gpu.zeros(2000, 'float32');
  assert.throws(() => gpu.softmax(x, 1, 2000, false), /softmax\[1,2000\].*maxStorageBufferBindingSize/);
  gpu.free(x);
  const y = gpu.fromArray(new Float32Array([1, 2, 3]));
  assert.deepEqual([...(await gpu.read(gpu.unary('neg', y)))], [-1, -2, -3]);
});

gpuTest('indexSelect and indexAdd: an embedding table and its gradient over the limit', async (gpu) => {
  // [outer, len, inner]: a 1-D vocabulary (outer 1) with rows straddling windows, outer > 1,
  // rows of 959 floats (one per window), and many ids so that g and the output split too.
  const cases: [ReduceShape, number][] = [
    [{ outer: 1, len: 37, inner: 150 }, 11],
    [{ outer: 1, len: 4, inner: 959 }, 6],
    [{ outer: 3, len: 13, inner: 70 }, 17],
    [{ outer: 2, len: 500, inner: 3 }, 900],
    [{ outer: 1, len: 9, inner: 5 }, 1000],
  ];
  for (const [shape, nids] of cases) {
    const { outer, len, inner } = shape;
    const x = ramp(outer * len * inner);
    const ids = Int32Array.from({ length: nids }, (_, j) => (j * 7 + (j >> 2)) % len); // repeats
    const g = ramp(outer * nids * inner, 0.01, 1);
    await same(gpu, `indexSelect ${JSON.stringify(shape)} ids ${nids}`, (be, up) => be.indexSelect(up(x), shape, up(ids)), 0);
    await same(gpu, `indexAdd ${JSON.stringify(shape)} ids ${nids}`, (be, up) => be.indexAdd(up(g), shape, up(ids)), 1e-6);
  }
});

gpuTest('rope and its inverse over row windows (cos/sin windowed at the rows they serve)', async (gpu) => {
  // [b, h, t, d]: rows of d straddle windows; d = 958 is one row per window.
  const shapes: [number, number, number, number][] = [[2, 3, 17, 40], [3, 2, 5, 958], [1, 1, 700, 6], [5, 1, 300, 4]];
  for (const [b, h, t, d] of shapes) {
    const x = ramp(b * h * t * d), cos = ramp(b * t * d, 0, 1), sin = ramp(b * t * d, 0, 2);
    for (const inverse of [false, true]) {
      await same(gpu, `rope [${b},${h},${t},${d}] inverse=${inverse}`, (be, up) => be.rope(up(x), up(cos), up(sin), b, h, t, d, inverse), 1e-5);
    }
  }
});

gpuTest('combineRows with one to three inputs over row windows', async (gpu) => {
  for (const [rows, cols] of [...ROW_SHAPES, [1500, 1] as [number, number]]) {
    for (let k = 1; k <= 3; k++) {
      const xs = Array.from({ length: k }, (_, i) => ramp(rows * cols, 1e-3, i));
      const cs = Array.from({ length: k }, (_, i) => ramp(rows, 0.01, 3 + i));
      await same(gpu, `combineRows ${k}x[${rows},${cols}]`, (be, up) => be.combineRows(xs.map(up), cs.map(up), rows, cols), 1e-5);
    }
  }
});

function convArgs(n: number, c: number, h: number, w: number, o: number, kh: number, kw: number, s: [number, number], pad: [number, number, number, number]): Conv2dArgs {
  const [padTop, padBottom, padLeft, padRight] = pad;
  return {
    n, c, h, w, o, kh, kw, strideH: s[0], strideW: s[1], padTop, padBottom, padLeft, padRight,
    oh: Math.floor((h + padTop + padBottom - kh) / s[0]) + 1, ow: Math.floor((w + padLeft + padRight - kw) / s[1]) + 1,
  };
}

gpuTest('conv2d, conv2dGradInput and conv2dGradWeight split over the batch', async (gpu) => {
  const cases = [
    convArgs(7, 3, 9, 7, 4, 3, 3, [1, 1], [1, 1, 1, 1]),    // 189 floats per image, images straddle windows
    convArgs(3, 2, 20, 19, 5, 3, 2, [2, 2], [1, 0, 2, 1]), // 760 per image: one image per window
    convArgs(11, 1, 6, 5, 2, 1, 1, [1, 1], [0, 0, 0, 0]),   // 1x1 kernel, many small images
  ];
  for (const a of cases) {
    const what = JSON.stringify(a);
    const x = ramp(a.n * a.c * a.h * a.w), w = ramp(a.o * a.c * a.kh * a.kw, 0, 1), bias = ramp(a.o, 0, 2);
    const gy = ramp(a.n * a.o * a.oh * a.ow, 1e-3, 3);
    await same(gpu, `conv2d ${what}`, (be, up) => be.conv2d(up(x), up(w), up(bias), a), 1e-4);
    await same(gpu, `conv2dGradInput ${what}`, (be, up) => be.conv2dGradInput(up(gy), up(w), a), 1e-4);
    await same(gpu, `conv2dGradWeight ${what}`, (be, up) => be.conv2dGradWeight(up(x), up(gy), a), 1e-4);
  }
});

/** Every storage `run` returns, compared element by element between the backends. */
async function sameAll(gpu: Backend, what: string, run: (be: Backend, up: (a: Float32Array | Int32Array) => Storage) => Record<string, Storage>, tol: number): Promise<void> {
  const want = run(cpu, (a) => cpu.fromArray(a)), have = run(gpu, (a) => gpu.fromArray(a));
  for (const k of Object.keys(want)) {
    const w = await cpu.read(want[k]!), h = await gpu.read(have[k]!);
    assert.equal(h.length, w.length, `${what} ${k}: length`);
    for (let i = 0; i < w.length; i++) {
      if (Number.isNaN(w[i]!) && Number.isNaN(h[i]!)) continue;
      if (!(Math.abs(h[i]! - w[i]!) <= tol * (1 + Math.abs(w[i]!)))) assert.fail(`${what} ${k}: element ${i}: ${h[i]} vs ${w[i]}`);
    }
  }
}

gpuTest('attention and attentionGrad split over (batch, head) and (batch, kv head) slices (fast-check: GQA, causal, masks)', async (gpu) => {
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.constantFrom([1, 1], [2, 1], [4, 2], [3, 3], [6, 2]),
    // Head dims 4/5 share one compiled variant (lavapipe takes seconds per attention pipeline).
    fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 30 }), fc.constant(4), fc.constant(5),
    fc.boolean(), fc.constantFrom('none', 'per-batch', 'per-head', 'shared'),
    async (batch, [heads, kvHeads], tq, tk0, dim, dimV, causal, maskKind) => {
      const tk = causal ? Math.max(tk0, tq) : tk0;
      const a: AttentionArgs = { batch, heads: heads!, kvHeads: kvHeads!, tq, tk, dim, dimV, scale: 1 / Math.sqrt(dim), causal, maskBatchStride: 0, maskHeadStride: 0 };
      const q = ramp(batch * heads! * tq * dim, 1e-4), k = ramp(batch * kvHeads! * tk * dim, 1e-4, 1), v = ramp(batch * kvHeads! * tk * dimV, 1e-3, 2);
      const gOut = ramp(batch * heads! * tq * dimV, 1e-3, 3);
      const mb = maskKind === 'per-batch' ? tq * tk : maskKind === 'per-head' ? heads! * tq * tk : 0;
      const mh = maskKind === 'per-head' ? tq * tk : 0;
      const count = maskKind === 'shared' ? tq * tk : maskKind === 'per-batch' ? batch * tq * tk : batch * heads! * tq * tk;
      // Padding-style mask: -1e9 on some keys (never key 0, so no row is fully hidden) plus a bias.
      const mask = ramp(count, 0, 4).map((x, i) => (i % tk !== 0 && x > 2 ? -1e9 : x * 0.1));
      await sameAll(gpu, `attention ${JSON.stringify({ ...a, maskKind })}`, (be, up) => {
        const args = maskKind === 'none' ? a : { ...a, mask: up(mask), maskBatchStride: mb, maskHeadStride: mh };
        const { out, lse } = be.attention(up(q), up(k), up(v), args);
        const { gq, gk, gv } = be.attentionGrad(up(q), up(k), up(v), out, lse, up(gOut), args);
        return { out, lse, gq, gk, gv };
      }, 2e-4);
    }), {
    numRuns: 12, seed: 7,
    // GQA groups of 3 heads straddling ranges (the dK/dV sums continue in the next dispatch).
    examples: [[3, [6, 2], 21, 3, 4, 5, false, 'per-head'], [2, [6, 2], 24, 30, 4, 5, true, 'none'], [3, [4, 2], 17, 29, 4, 5, true, 'per-batch']],
  });
});

gpuTest('ops whose single slice exceeds one binding say so, naming the op, tensor, shape and limit', async (gpu) => {
  const big = (n: number) => gpu.zeros(n, 'float32');
  const a: AttentionArgs = { batch: 2, heads: 2, kvHeads: 1, tq: 40, tk: 8, dim: 32, dimV: 8, scale: 1, causal: false, maskBatchStride: 0, maskHeadStride: 0 };
  assert.throws(() => gpu.attention(big(2 * 2 * 40 * 32), big(2 * 8 * 32), big(2 * 8 * 8), a),
    /attention B2 H2\/1 tq40 tk8 d32\/8: one \(batch, head\) slice of q \(1280 elements, 5120 bytes\) exceeds maxStorageBufferBindingSize 4096/);
  const c = convArgs(2, 4, 17, 17, 2, 3, 3, [1, 1], [1, 1, 1, 1]);
  assert.throws(() => gpu.conv2d(big(2 * 4 * 289), big(2 * 4 * 9), undefined, c),
    /conv2d x\[2,4,17,17\] w\[2,4,3,3\].*: one image of x \(1156 elements, 4624 bytes\) exceeds maxStorageBufferBindingSize 4096/);
  assert.throws(() => gpu.rope(big(2 * 1100), big(2 * 1100), big(2 * 1100), 1, 1, 2, 1100, false),
    /rope\[1,1,2,1100\]: one row of x \(1100 elements, 4400 bytes\) exceeds maxStorageBufferBindingSize 4096/);
  assert.throws(() => gpu.indexAdd(big(3 * 1100), { outer: 1, len: 5, inner: 1100 }, gpu.fromArray(new Int32Array([0, 4, 2]))),
    /indexAdd\[1,5,1100\] ids 3: one row of the output, 1100 elements \(4400 bytes\) exceeds maxStorageBufferBindingSize 4096/);
  assert.throws(() => gpu.combineRows([big(2 * 1100)], [big(2)], 2, 1100),
    /combineRows\[1x2,1100\]: one row of an input, 1100 elements \(4400 bytes\) exceeds maxStorageBufferBindingSize 4096/);
  const y = gpu.fromArray(new Float32Array([1, 2, 3]));
  assert.deepEqual([...(await gpu.read(gpu.unary('neg', y)))], [-1, -2, -3]); // the backend still works
});

gpuTest('an embedding forward and backward through autograd, scaled down 100x from Qwen2-0.5B (151936x896)', async (gpu) => {
  // [1519, 9] spans 15 bindings of the 4 KiB limit, as [151936, 896] spans 5 of lavapipe's 128 MiB.
  const vocab = 1519, dim = 9;
  const w = ramp(vocab * dim, 1e-4);
  const ids = Int32Array.from({ length: 2 * 37 }, (_, i) => (i * 613 + (i % 3) * 1500) % vocab); // repeats, both ends
  const probe = ramp(2 * 37 * dim, 0, 1);
  const run = async (be: Backend) => {
    const weight = F.tensor(w, [vocab, dim], { backend: be, requiresGrad: true });
    const y = F.embedding(F.tensor(ids, [2, 37], { backend: be, dtype: 'int32' }), weight);
    F.sum(F.mul(y, F.tensor(probe, [2, 37, dim], { backend: be }))).backward();
    return { y: await y.data(), g: await weight.grad!.data() };
  };
  const want = await run(cpu), have = await run(gpu);
  assert.deepEqual([...have.y], [...want.y]);
  have.g.forEach((v, i) => assert.ok(Math.abs(v - want.g[i]!) <= 1e-5 * (1 + Math.abs(want.g[i]!)), `grad ${i}: ${v} vs ${want.g[i]}`));
});

test('webgpu split: the real [151936, 896] embedding plan under a 128 MiB binding limit (shapes only)', () => {
  // The split plan of indexSelect/indexAdd, without allocating 544 MB: row windows that cover the
  // table exactly, each within one binding at its aligned offset.
  const rt = { maxBinding: 128 * 1024 * 1024, bindAlign: 256 } as WebGPURuntime;
  const rows = 151936, inner = 896;
  const ranges = rowRanges(rt, rows, inner, 'indexAdd[1,151936,896]');
  assert.equal(ranges.length, 5);
  let next = 0;
  for (const r of ranges) {
    assert.equal(r.start, next);
    assert.ok(windowFits(rt, r.start * inner, (r.start + r.count) * inner), `rows ${r.start}..${r.start + r.count}`);
    next = r.start + r.count;
  }
  assert.equal(next, rows);
});

test('webgpu split: broadcastHull is the min/max of the strided index over an output range (fast-check)', () => {
  const layout = fc.array(fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 });
  fc.assert(fc.property(layout, fc.nat(), fc.nat(), (dims, x, y) => {
    const shape = dims.map((d) => d[0]), strides = dims.map((d) => d[1]);
    const n = shape.reduce((p, q) => p * q, 1);
    const start = x % n, end = start + 1 + (y % (n - start));
    let lo = Infinity, hi = -Infinity;
    for (let g = start; g < end; g++) {
      let at = 0;
      for (let d = shape.length - 1, rem = g; d >= 0; d--) { at += (rem % shape[d]!) * strides[d]!; rem = Math.floor(rem / shape[d]!); }
      lo = Math.min(lo, at); hi = Math.max(hi, at);
    }
    assert.deepEqual(broadcastHull(shape, strides, start, end), [lo, hi + 1]);
  }), { numRuns: 500 });
});

gpuTest('binary and where with broadcast operands over the limit (windowed at the hull each range reads)', async (gpu) => {
  const cases: [number[], number[]][] = [
    [[3, 1500], [1, 1500]],       // a bias row over one binding: ranges cut at output rows
    [[40, 1], [1, 1100]],         // both broadcast, the output is their outer product
    [[1100, 1], [1100, 3]],       // a column over one binding
    [[2, 1, 600], [2, 5, 600]],   // broadcast over a middle dim
  ];
  const outOf = (a: number[], b: number[]) => a.map((d, i) => Math.max(d, b[i]!));
  const numel = (s: number[]) => s.reduce((p, q) => p * q, 1);
  for (const [as, bs] of cases) {
    const os = outOf(as, bs);
    const a = ramp(numel(as)), b = ramp(numel(bs), 1e-3, 1);
    for (const op of ['add', 'mul', 'gt'] as const) {
      await same(gpu, `binary.${op} [${as}]x[${bs}]`, (be, up) => be.binary(op, up(a), as, up(b), bs, os, op === 'gt' ? 'int32' : 'float32'), 1e-6);
      await same(gpu, `binary.${op} [${bs}]x[${as}]`, (be, up) => be.binary(op, up(b), bs, up(a), as, os, op === 'gt' ? 'int32' : 'float32'), 1e-6);
    }
    const c = Int32Array.from({ length: numel(bs) }, (_, i) => i % 3 === 0 ? 1 : 0);
    const one = as.map(() => 1); // backends take operands of the output's rank
    await same(gpu, `where [${bs}],[${as}],[${one}]`, (be, up) => be.where(up(c), bs, up(a), as, up(new Float32Array([7])), one, os), 0);
    await same(gpu, `where [${as}],[${bs}],[${as}]`, (be, up) => be.where(up(Int32Array.from(a, (v) => (v > 0 ? 1 : 0))), as, up(b), bs, up(a), as, os), 0);
  }
});

gpuTest('the cases above really split: each op records several dispatches', async (gpu) => {
  const up = (a: Float32Array | Int32Array) => gpu.fromArray(a);
  const count = (what: string, run: () => unknown, atLeast: number) => {
    const before = gpu.rt.totalDispatches;
    run();
    assert.ok(gpu.rt.totalDispatches - before >= atLeast, `${what}: ${gpu.rt.totalDispatches - before} dispatches`);
  };
  const ids = up(Int32Array.from({ length: 11 }, (_, j) => (j * 7) % 37));
  count('indexSelect', () => gpu.indexSelect(up(ramp(37 * 150)), { outer: 1, len: 37, inner: 150 }, ids), 3);
  count('indexAdd', () => gpu.indexAdd(up(ramp(11 * 150)), { outer: 1, len: 37, inner: 150 }, ids), 3);
  count('rope', () => gpu.rope(up(ramp(2 * 3 * 17 * 40)), up(ramp(2 * 17 * 40)), up(ramp(2 * 17 * 40)), 2, 3, 17, 40, false), 3);
  count('combineRows', () => gpu.combineRows([up(ramp(11 * 300))], [up(ramp(11))], 11, 300), 3);
  const c = convArgs(7, 3, 9, 7, 4, 3, 3, [1, 1], [1, 1, 1, 1]);
  count('conv2d', () => gpu.conv2d(up(ramp(7 * 189)), up(ramp(108)), undefined, c), 2);
  count('conv2dGradInput', () => gpu.conv2dGradInput(up(ramp(7 * 252)), up(ramp(108)), c), 2);
  count('conv2dGradWeight', () => gpu.conv2dGradWeight(up(ramp(7 * 189)), up(ramp(7 * 252)), c), 2);
  const a: AttentionArgs = { batch: 3, heads: 6, kvHeads: 2, tq: 21, tk: 3, dim: 4, dimV: 5, scale: 0.5, causal: false, maskBatchStride: 0, maskHeadStride: 0 };
  const q = up(ramp(3 * 6 * 21 * 4)), k = up(ramp(3 * 2 * 3 * 4)), v = up(ramp(3 * 2 * 3 * 5));
  let fwd = { out: q, lse: q };
  count('attention', () => { fwd = gpu.attention(q, k, v, a); }, 2);
  count('attentionGrad', () => gpu.attentionGrad(q, k, v, fwd.out, fwd.lse, up(ramp(3 * 6 * 21 * 5)), a), 6);
  count('binary broadcast', () => gpu.binary('add', up(ramp(3 * 1500)), [3, 1500], up(ramp(1500)), [1, 1500], [3, 1500], 'float32'), 6);
  await gpu.sync();
});
