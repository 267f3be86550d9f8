// Lazy fusion of elementwise chains in the WebGPU backend (fusion.ts): fused results equal the
// CPU reference on random programs, the dispatch count drops, and the hazards hold: in-place
// writes after a pending read, free() of operands while pending, unconsumed pending storages,
// memory counts, and device errors naming the fused ops.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import type { Backend, BinaryOp, DifferentiableUnaryOp, Storage, UnaryOp } from '../src/backend.ts';
import { createCpuBackend } from '../src/backends/cpu/index.ts';
import { sizeClass } from '../src/backends/webgpu/buffer_pool.ts';
import { MAX_FUSED_OPS } from '../src/backends/webgpu/fusion.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../src/backends/webgpu/index.ts';
import type { GPUStorage } from '../src/backends/webgpu/storage.ts';
import { randomF32 } from './parity_suite.ts';
import { isClose } from '../../../test/helpers/close.ts';

const cpu = createCpuBackend();
const gpuOrError: WebGPUBackend | Error = await createWebGPUBackend().catch((e: unknown) => e as Error);
const RUNS = Number(process.env.WEBGPU_FUSION_RUNS ?? 30);

function gpuTest(name: string, fn: (gpu: WebGPUBackend) => Promise<void>): void {
  test(`webgpu fusion: ${name}`, async (t: TestContext) => {
    if (gpuOrError instanceof Error) { t.skip(`no WebGPU adapter: ${gpuOrError.message}`); return; }
    await fn(gpuOrError);
  });
}

function assertNear(what: string, have: ArrayLike<number>, want: ArrayLike<number>, tol: number): void {
  assert.equal(have.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!, h = have[i]!;
    if (Object.is(w, h) || (Number.isNaN(w) && Number.isNaN(h)) || w === h) continue;
    if (!isClose(h, w, tol, tol)) assert.fail(`${what}: element ${i} of ${want.length}: webgpu ${h} vs cpu ${w}`);
  }
}

// --- random programs ------------------------------------------------------------------------

// Ops whose float32 rounding differences stay small through long chains (the per-op formulas,
// sin/cos/exp/pow/div and the comparisons included, are in the parity suite already).
const UNARY: UnaryOp[] = ['tanh', 'sigmoid', 'neg', 'abs', 'relu', 'silu', 'gelu_tanh', 'gelu_erf', 'sin', 'cos', 'square'];
const GRAD: DifferentiableUnaryOp[] = ['tanh', 'sigmoid', 'relu', 'abs', 'neg', 'silu', 'gelu_erf', 'square'];
const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'max', 'min'];
/** Past this magnitude a value is squashed by tanh (on both backends), so sin/cos and products
 * see bounded inputs and a chain of 200 ops cannot amplify rounding into chaos. */
const BOUND = 8;

type Step =
  | { k: 'unary'; op: UnaryOp; a: number }
  | { k: 'grad'; op: DifferentiableUnaryOp; a: number; b: number }
  | { k: 'binary'; op: BinaryOp; a: number; b: number }
  | { k: 'free'; a: number }
  | { k: 'read'; a: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('unary' as const), op: fc.constantFrom(...UNARY), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('grad' as const), op: fc.constantFrom(...GRAD), a: fc.nat(), b: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('binary' as const), op: fc.constantFrom(...BINARY), a: fc.nat(), b: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('free' as const), a: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('read' as const), a: fc.nat() }) },
);

interface Value { c: Storage; g: Storage; size: number }

/** Runs `steps` on both backends over a pool of values (operands picked by index modulo the
 * pool; the same value may be both operands), checks reads on the way and every live value at
 * the end, frees everything and checks the memory counts came back. */
async function runProgram(gpu: WebGPUBackend, n: number, seed: number, steps: readonly Step[]): Promise<void> {
  const before = gpu.memory();
  const pool: Value[] = [];
  const leaf = (size: number, s: number): void => {
    const data = randomF32(size, s);
    pool.push({ c: cpu.fromArray(data.slice()), g: gpu.fromArray(data.slice()), size });
  };
  for (let j = 0; j < 3; j++) leaf(n, seed + j);
  for (let j = 0; j < 2; j++) leaf(1, seed + 10 + j); // scalar operands (broadcast)
  // The last op's result is never freed, and the last value never: every program that runs an
  // op ends with that op's result in the pool, so the final comparison always covers one.
  let latest: Value | undefined;
  const add = (c: Storage, g: Storage, size: number): void => {
    const big = (cpu.readSync(c) as Float32Array).some((v) => Math.abs(v) > BOUND);
    if (big) {
      pool.push({ c: cpu.unary('tanh', c), g: gpu.unary('tanh', g), size });
      cpu.free(c); gpu.free(g);
    } else pool.push({ c, g, size });
    latest = pool[pool.length - 1];
  };
  for (const [i, st] of steps.entries()) {
    const a = pool[st.a % pool.length]!;
    if (st.k === 'free' && (a === latest || pool.length === 1)) continue;
    if (st.k === 'unary') add(cpu.unary(st.op, a.c), gpu.unary(st.op, a.g), a.size);
    else if (st.k === 'grad') {
      const same = pool.filter((v) => v.size === a.size), b = same[st.b % same.length]!;
      add(cpu.unaryGrad(st.op, a.c, b.c), gpu.unaryGrad(st.op, a.g, b.g), a.size);
    } else if (st.k === 'binary') {
      const b = pool[st.b % pool.length]!, size = Math.max(a.size, b.size);
      add(cpu.binary(st.op, a.c, [a.size], b.c, [b.size], [size], 'float32'),
        gpu.binary(st.op, a.g, [a.size], b.g, [b.size], [size], 'float32'), size);
    } else if (st.k === 'free') {
      pool.splice(pool.indexOf(a), 1);
      cpu.free(a.c); gpu.free(a.g);
    } else assertNear(`read at step ${i}`, await gpu.read(a.g), await cpu.read(a.c), 2e-4);
  }
  assert.ok(latest !== undefined && pool.includes(latest), 'the program ran an op whose result is checked below');
  for (const [j, v] of pool.entries()) assertNear(`value ${j} of ${pool.length} at the end`, await gpu.read(v.g), await cpu.read(v.c), 2e-4);
  for (const v of pool) { cpu.free(v.c); gpu.free(v.g); }
  const after = gpu.memory();
  assert.equal(after.liveStorages, before.liveStorages, 'liveStorages back where they started');
  assert.equal(after.liveBytes, before.liveBytes, 'liveBytes back where they started');
}

gpuTest('random programs of unary/unaryGrad/binary ops (scalars, repeated operands, frees, reads) equal the CPU', async (gpu) => {
  await fc.assert(fc.asyncProperty(
    fc.constantFrom(1, 3, 64, 257, 1000), fc.nat(1000),
    fc.array(stepArb, { minLength: 1, maxLength: 3 * MAX_FUSED_OPS }).filter((p) => p.some((st) => st.k !== 'free' && st.k !== 'read')),
    (n, seed, steps) => runProgram(gpu, n, seed, steps),
  ), { numRuns: RUNS });
});

// --- dispatch counts ------------------------------------------------------------------------

/** The bench's chain: alternating add(x, x0) and tanh, freeing each input; CPU alongside. */
async function chain(be: Backend, x0: Storage, n: number, ops: number): Promise<Float32Array> {
  let x = x0;
  for (let i = 0; i < ops; i++) {
    const y = i % 2 ? be.unary('tanh', x) : be.binary('add', x, [n], x0, [n], [n], 'float32');
    if (x !== x0) be.free(x);
    x = y;
  }
  const out = await be.read(x) as Float32Array;
  be.free(x);
  return out;
}

gpuTest('a 200-op chain runs in a handful of dispatches (one per MAX_FUSED_OPS ops), and equals the CPU', async (gpu) => {
  const n = 1000, data = randomF32(n, 5);
  const xc = cpu.fromArray(data.slice()), xg = gpu.fromArray(data.slice());
  const before = gpu.rt.totalDispatches;
  const have = await chain(gpu, xg, n, 200);
  const used = gpu.rt.totalDispatches - before;
  assert.ok(used <= Math.ceil(200 / MAX_FUSED_OPS), `200 ops took ${used} dispatches`);
  assertNear('chain', have, await chain(cpu, xc, n, 200), 1e-5);
  // The same chain without fusion: one dispatch per op (the counter counts what it should).
  const eager = await createWebGPUBackend({ fuseElementwise: false });
  try {
    const xe = eager.fromArray(data.slice());
    const b = eager.rt.totalDispatches;
    assertNear('eager chain', await chain(eager, xe, n, 200), have, 1e-5);
    assert.equal(eager.rt.totalDispatches - b, 200);
  } finally { eager.destroy(); }
  gpu.free(xg);
});

gpuTest('a shared intermediate is computed once; live intermediates are written by the kernel that inlines them', async (gpu) => {
  const n = 100, data = randomF32(n, 9);
  const [xc, xg] = [cpu.fromArray(data.slice()), gpu.fromArray(data.slice())];
  let d = gpu.rt.totalDispatches;
  // t has two consumers: computed once when the second appears, then read by both kernels.
  const tg = gpu.unary('tanh', xg), ag = gpu.binary('add', tg, [n], xg, [n], [n], 'float32');
  const bg = gpu.binary('mul', tg, [n], xg, [n], [n], 'float32');
  gpu.free(tg);
  const tc = cpu.unary('tanh', xc);
  assertNear('a', await gpu.read(ag), await cpu.read(cpu.binary('add', tc, [n], xc, [n], [n], 'float32')), 1e-6);
  assertNear('b', await gpu.read(bg), await cpu.read(cpu.binary('mul', tc, [n], xc, [n], [n], 'float32')), 1e-6);
  assert.equal(gpu.rt.totalDispatches - d, 3, 't, a, b');
  // s stays alive inside u's expression: u's kernel writes s too, so reading s dispatches nothing.
  d = gpu.rt.totalDispatches;
  const sg = gpu.unary('sigmoid', xg), ug = gpu.unary('neg', sg);
  const sc = cpu.unary('sigmoid', xc);
  assertNear('u', await gpu.read(ug), await cpu.read(cpu.unary('neg', sc)), 1e-6);
  assertNear('s', await gpu.read(sg), await cpu.read(sc), 1e-6);
  assert.equal(gpu.rt.totalDispatches - d, 1, 'one kernel for u and s');
  for (const s of [xg, ag, bg, sg, ug]) gpu.free(s);
});

gpuTest('freeing a pending storage nobody reads never computes it; memory counts stay truthful', async (gpu) => {
  const before = gpu.memory();
  const x = gpu.fromArray(randomF32(300, 1));
  const d = gpu.rt.totalDispatches;
  const y = gpu.unary('exp', x), z = gpu.binary('add', y, [300], x, [300], [300], 'float32');
  assert.equal(gpu.memory().liveStorages, before.liveStorages + 3, 'pending storages are live');
  gpu.free(y); gpu.free(z);
  await gpu.sync();
  assert.equal(gpu.rt.totalDispatches - d, 0, 'nothing dispatched');
  gpu.free(x);
  assert.equal(gpu.memory().liveStorages, before.liveStorages);
  assert.equal(gpu.memory().liveBytes, before.liveBytes);
});

// --- hazards --------------------------------------------------------------------------------

gpuTest('free() of operands while pending: their buffers are kept until the expression runs', async (gpu) => {
  const n = 500, data = randomF32(n, 3);
  const before = gpu.memory();
  const x = gpu.fromArray(data.slice()), s = gpu.fromArray(new Float32Array([0.5]));
  const t = gpu.unary('tanh', x), y = gpu.binary('mul', t, [n], s, [1], [n], 'float32');
  gpu.free(x); gpu.free(s); gpu.free(t);
  const held = gpu.memory();
  assert.equal(held.liveStorages, before.liveStorages + 1, 'only y is live');
  assert.equal(held.liveBytes, before.liveBytes + 2 * sizeClass(n * 4) + sizeClass(4), 'y, and x and s still held (and counted)');
  // Uploads of the same sizes would reuse x's and s's buffers if they had gone back to the pool.
  const junk = [gpu.fromArray(new Float32Array(n).fill(99)), gpu.fromArray(new Float32Array([99]))];
  const want = Float32Array.from(data, (v) => Math.tanh(v) * 0.5);
  assertNear('y', await gpu.read(y), want, 1e-6);
  for (const j of junk) gpu.free(j);
  gpu.free(y);
  const after = gpu.memory();
  assert.equal(after.liveStorages, before.liveStorages);
  assert.equal(after.liveBytes, before.liveBytes, 'x and s released once y ran');
});

gpuTest('in-place writes (adamwInPlace, scatterStridedInto) do not change what pending expressions compute', async (gpu) => {
  const n = 64, p0 = randomF32(n, 4), g0 = randomF32(n, 5);
  const [pg, gg, mg, vg] = [p0, g0, new Float32Array(n), new Float32Array(n)].map((a) => gpu.fromArray(a.slice())) as [Storage, Storage, Storage, Storage];
  const two = gpu.fromArray(new Float32Array([2]));
  const y = gpu.binary('mul', pg, [n], two, [1], [n], 'float32'); // pending over the param
  const t = gpu.unary('tanh', pg), w = gpu.binary('add', t, [n], mg, [n], [n], 'float32');
  gpu.free(t); // w reads p and m through a freed pending intermediate
  gpu.adamwInPlace(pg, gg, mg, vg, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
  assertNear('pending over the param: old values', await gpu.read(y), Float32Array.from(p0, (v) => v * 2), 0);
  assertNear('pending over param and m: old values', await gpu.read(w), Float32Array.from(p0, (v) => Math.tanh(v)), 1e-6);
  const p1 = await gpu.read(pg);
  assert.ok(p1.some((v, i) => v !== p0[i]), 'adamw changed the param');
  // scatterStridedInto into a storage a pending expression reads.
  const z = gpu.unary('neg', pg);
  gpu.scatterStridedInto(pg, { shape: [n], strides: [1], offset: 0 }, gg);
  assertNear('pending over a scatter destination: old values', await gpu.read(z), Float32Array.from(p1, (v) => -v), 0);
  assertNear('scatter wrote', await gpu.read(pg), g0, 0);
  for (const s of [pg, gg, mg, vg, two, y, w, z]) gpu.free(s);
});

gpuTest('ops outside the rule run eagerly on computed operands (row broadcast, int32 output)', async (gpu) => {
  const x = gpu.fromArray(randomF32(12, 2)), row = gpu.fromArray(randomF32(4, 3));
  const t = gpu.unary('tanh', x); // pending
  const xc = cpu.fromArray(randomF32(12, 2)), rc = cpu.fromArray(randomF32(4, 3)), tc = cpu.unary('tanh', xc);
  // A [3,4] x [1,4] broadcast is not full-or-scalar: eager, with t computed first.
  assertNear('row broadcast', await gpu.read(gpu.binary('mul', t, [3, 4], row, [1, 4], [3, 4], 'float32')),
    await cpu.read(cpu.binary('mul', tc, [3, 4], rc, [1, 4], [3, 4], 'float32')), 1e-6);
  // A comparison into int32: eager.
  const gt = gpu.binary('gt', t, [12], x, [12], [12], 'int32');
  assert.ok((await gpu.read(gt)) instanceof Int32Array);
  assertNear('gt', await gpu.read(gt), await cpu.read(cpu.binary('gt', tc, [12], xc, [12], [12], 'int32')), 0);
  for (const s of [x, row, t, gt]) gpu.free(s);
});

gpuTest('a device error in a fused kernel names the fused ops and the size', async () => {
  const be = await createWebGPUBackend();
  try {
    const x = be.fromArray(new Float32Array([1, 2, 3]));
    const y = be.binary('add', be.unary('tanh', x), [3], x, [3], [3], 'float32');
    (x as GPUStorage).buffer.destroy(); // a real validation error at submit
    await assert.rejects(be.read(y), /validation error in a batch of ops \[fused\[3\]\(tanh, add\)/);
  } finally { be.destroy(); }
});

gpuTest('an expression whose leaves grew past the binding budget (an inlined operand computed since) splits and stays right', async (gpu) => {
  const n = 40, k = gpu.fusion.maxBuffers - 1; // k leaves + 1 output: the most one kernel binds
  const before = gpu.memory();
  const datas = Array.from({ length: k }, (_, j) => randomF32(n, 100 + j));
  const gl = datas.map((d) => gpu.fromArray(d.slice())), cl = datas.map((d) => cpu.fromArray(d.slice()));
  // x = tanh(L0) stays live inside r = (((x + L0) + L1) + ... + L[k-1]); the partial sums are freed.
  const xg = gpu.unary('tanh', gl[0]!), xc = cpu.unary('tanh', cl[0]!);
  let rg = gpu.binary('add', xg, [n], gl[0]!, [n], [n], 'float32'), rc = cpu.binary('add', xc, [n], cl[0]!, [n], [n], 'float32');
  for (let j = 1; j < k; j++) {
    const ng = gpu.binary('add', rg, [n], gl[j]!, [n], [n], 'float32'), nc = cpu.binary('add', rc, [n], cl[j]!, [n], [n], 'float32');
    gpu.free(rg); cpu.free(rc);
    rg = ng; rc = nc;
  }
  // A second consumer computes x: r now reads x besides L0..L[k-1], one binding too many.
  const zg = gpu.unary('neg', xg);
  gpu.free(xg);
  // New storages take the buffers the freed partial sums gave back (z took one already):
  // computing a partial sum on its own must not write there.
  const junk = Array.from({ length: 4 }, () => gpu.fromArray(new Float32Array(n).fill(99)));
  const zc = cpu.unary('neg', xc);
  assertNear('z', await gpu.read(zg), await cpu.read(zc), 1e-6);
  const d = gpu.rt.totalDispatches;
  assertNear('r', await gpu.read(rg), await cpu.read(rc), 1e-6);
  assert.equal(gpu.rt.totalDispatches - d, 2, 'split in two kernels');
  assertNear('z after r', await gpu.read(zg), await cpu.read(zc), 1e-6);
  for (const j of junk) assertNear('untouched upload', await gpu.read(j), new Float32Array(n).fill(99), 0);
  for (const s of [...gl, rg, zg, ...junk]) gpu.free(s);
  assert.equal(gpu.memory().liveStorages, before.liveStorages);
  assert.equal(gpu.memory().liveBytes, before.liveBytes, 'the re-buffered intermediate was released');
});
