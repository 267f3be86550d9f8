// Parity of the wasm backend with the CPU reference (the shared suite in parity_suite.ts), run
// with two threads, plus what is particular to this backend: shapes large enough to split
// across the worker pool, memory accounting, the 4 GiB limit, fallback counters.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { AttentionArgs, Backend, Conv2dArgs } from '../src/backend.ts';
import { createWasmBackend, isCpuEmulatedAdapter, WasmOutOfMemoryError } from '../src/backends/wasm/index.ts';
import { both, close, cpu, defineParitySuite, dim, numel, randomF32, randomI32 } from './parity_suite.ts';

const wasm = createWasmBackend({ threads: 2 });
after(() => wasm.close());
const RUNS = Number(process.env.WASM_PARITY_RUNS ?? 25);

const delta = (after: Record<string, number>, before: Record<string, number>): string[] =>
  Object.keys(after).filter((op) => after[op]! > (before[op] ?? 0));

/**
 * Runs a parity test on the wasm backend. Ops the backend has no native kernel for run the CPU
 * reference kernels on its memory, so a test that reached only those compared the CPU code with
 * itself: it is reported as skipped with that reason instead of as a passing wasm check.
 */
function wasmTest(name: string, fn: (gpu: Backend) => Promise<void>): void {
  test(`wasm parity: ${name}`, async (t) => {
    const native0 = wasm.nativeCounts(), fallback0 = wasm.fallbackCounts();
    await fn(wasm);
    const native = delta(wasm.nativeCounts(), native0), fallback = delta(wasm.fallbackCounts(), fallback0);
    // cast and fill are the backend's own code but keep no counter: a test naming them checks them.
    if (native.length === 0 && fallback.length > 0 && !/\b(cast|fill)\b/.test(name)) {
      t.skip(`not a wasm kernel check: the wasm backend runs ${fallback.join(', ')} on the CPU reference kernels, so this compared the CPU code with itself`);
    }
  });
}

defineParitySuite(wasmTest, RUNS);

// --- wasm-specific: threads, memory, fallbacks --------------------------------------------------

wasmTest('gelu_erf and its gradient where erf skips its |x| >= 1 branch, takes it, or mixes lanes; NaN and infinities', async (gpu) => {
  // erf's second branch runs only for vectors with a lane at |x / sqrt 2| >= 1: blocks of four
  // small values, four large ones, alternating ones, and the special values, at odd lengths (tails).
  const values: number[] = [];
  for (let i = 0; i < 64; i++) values.push(((i * 37) % 100) / 100 * 2.8 - 1.4); // all |x| < 1.41: series only
  for (let i = 0; i < 64; i++) values.push((i % 2 ? 1 : -1) * (1.5 + (i % 9))); // all beyond
  for (let i = 0; i < 64; i++) values.push(i % 4 === 3 ? 2.5 - i / 40 : (i - 32) / 50); // one lane in four beyond
  values.push(NaN, 0.3, -0.2, 0.1, NaN, 3, Infinity, -Infinity, -0, 0, 1.4142135, -1.4142136, 1e-30);
  for (const n of [values.length, values.length - 1, 3]) {
    const x = Float32Array.from(values.slice(0, n));
    const [xc, xg] = both(gpu, x), [gc, gg] = both(gpu, randomF32(n, 5));
    await close(gpu, `gelu_erf n=${n}`, cpu.unary('gelu_erf', xc), gpu.unary('gelu_erf', xg), 2e-6, 2e-5);
    await close(gpu, `gelu_erf grad n=${n}`, cpu.unaryGrad('gelu_erf', xc, gc), gpu.unaryGrad('gelu_erf', xg, gg), 2e-6, 5e-5);
    gpu.free(xg); gpu.free(gg);
  }
});

wasmTest('matmul large enough to split across threads (along M, along N and along the batch), all transposes', async (gpu) => {
  // [1, 37, 300, 1029] and [1, 6, 700, 300]: B outweighs A, so the columns are split (in multiples of 8, n not one).
  for (const [batch, m, k, n] of [[1, 203, 300, 131], [3, 64, 257, 72], [1, 517, 33, 9], [5, 9, 600, 260], [1, 37, 300, 1029], [1, 6, 700, 300]] as const) {
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

wasmTest('matmul activation epilogue over several K, M and N cache blocks and two threads (applied once, after the full sum)', async (gpu) => {
  // k > KC (256) makes later K blocks accumulate; n > NC (256) and m > MC (128) give several blocks of C.
  const acts = ['gelu_erf', 'gelu_tanh', 'silu', 'relu'] as const;
  const shapes = [[1, 203, 600, 131], [3, 64, 257, 72], [1, 300, 520, 300], [5, 9, 600, 260], [1, 13, 520, 601]] as const;
  for (const [i, [batch, m, k, n]] of shapes.entries()) {
    for (const [j, activation] of acts.entries()) {
      const transA = (i + j) % 2 === 1, transB = j >= 2, withBias = j % 2 === 0;
      const [ac, ag] = both(gpu, randomF32(batch * m * k, m + k + j));
      const [bc, bg] = both(gpu, randomF32(batch * k * n, n + k + j));
      const [biasC, biasG] = both(gpu, randomF32(n, 7 + j, -3, 3));
      const args = { batch, m, k, n, transA, transB, aBatchStride: m * k, bBatchStride: k * n, activation };
      await close(gpu, `matmul ${JSON.stringify(args)} bias ${withBias}`, cpu.matmul(ac, bc, withBias ? { ...args, bias: biasC } : args),
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

wasmTest('conv2d and gradients at sizes split across threads (3x3 pad 1, 5x5 stride 2, 1x1), fewer and more images than threads, large images', async (two) => {
  // Two and three threads; 2-5 images; the locator's 32-channel 32x32 shape (5 images: groups of
  // 3 and 2 share a col matrix); a 48-channel 100x100 image (17 MiB of im2col columns, one image a
  // group); the demo step's patch embedding (32 images, 8x8 stride 8) and VAE conv (16 images 8x8).
  const three = createWasmBackend({ threads: 3 });
  const cases = [[3, 16, 24, 20, 21, 3, 1, 1], [2, 16, 24, 20, 21, 3, 1, 1], [3, 8, 12, 33, 30, 5, 2, 2], [3, 32, 16, 14, 14, 1, 1, 0], [5, 32, 32, 32, 32, 3, 1, 1], [3, 48, 8, 100, 100, 3, 1, 1],
    [32, 3, 48, 32, 32, 8, 8, 0], [16, 32, 32, 8, 8, 3, 1, 1]] as const;
  try { for (const gpu of [two, three]) for (const [n, c, o, h, w, k, s, p] of cases) {
    const a: Conv2dArgs = { n, c, h, w, o, kh: k, kw: k, strideH: s, strideW: s, padTop: p, padBottom: p, padLeft: p, padRight: p,
      oh: Math.floor((h + 2 * p - k) / s) + 1, ow: Math.floor((w + 2 * p - k) / s) + 1 };
    const [xc, xg] = both(gpu, randomF32(a.n * c * h * w, 1));
    const [wc, wg] = both(gpu, randomF32(o * c * k * k, 2));
    const [bc, bg] = both(gpu, randomF32(o, 3));
    const [gc, gg] = both(gpu, randomF32(a.n * o * a.oh * a.ow, 4));
    const what = JSON.stringify(a);
    await close(gpu, `conv2d ${what}`, cpu.conv2d(xc, wc, bc, a), gpu.conv2d(xg, wg, bg, a), 1e-4, 1e-4);
    await close(gpu, `conv2dGradInput ${what}`, cpu.conv2dGradInput(gc, wc, a), gpu.conv2dGradInput(gg, wg, a), 1e-4, 1e-4);
    // A float32 sum of n x oh x ow products (30,000 in the 100x100 case) drifts ~sqrt(terms) ulps.
    await close(gpu, `conv2dGradWeight ${what}`, cpu.conv2dGradWeight(xc, gc, a), gpu.conv2dGradWeight(xg, gg, a), Math.max(1e-4, 1e-5 * Math.sqrt(n * a.oh * a.ow)), 1e-4);
    for (const st of [xg, wg, bg, gg]) gpu.free(st);
  } } finally { three.close(); } // its workers would keep the process alive after a failure
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
