// The matmul activation epilogue at the tensor level: the CPU reference equals the unary op
// applied to the plain product, F.linear(..., { activation }) has the right gradients (finite
// differences, which evaluate the fused path under noGrad against autograd's unfused path), the
// fused and unfused paths agree on every backend, and under noGrad (or with nothing to
// differentiate) it really is one matmul dispatch with no separate activation on WebGPU.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Backend, MatmulActivation, MatmulArgs } from '../src/backend.ts';
import * as F from '../src/ops/index.ts';
import { createCpuBackend, createWasmBackend, nn, noGrad, tensor, tidy, type Tensor } from '../src/index.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../src/backends/webgpu/index.ts';
import { Generator } from '../src/ops/random.ts';
import { gradcheck, randomData, rng, type GradInput } from '../../../test/helpers/gradcheck.ts';

const cpu = createCpuBackend();
const wasm = createWasmBackend({ threads: 2 });
const gpuOrError: WebGPUBackend | Error = await createWebGPUBackend().catch((e: unknown) => e as Error);
test.after(() => wasm.close());

const ACTS: MatmulActivation[] = ['gelu_erf', 'gelu_tanh', 'silu', 'relu'];
/** The same activation as a plain tensor op (the unfused path). */
const ACT_OP: Record<MatmulActivation, (z: Tensor) => Tensor> = {
  gelu_erf: (z) => F.gelu(z), gelu_tanh: (z) => F.gelu(z, 'tanh'), silu: F.silu, relu: F.relu,
};
const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
const input = (shape: number[], seed: number, lo = -1, hi = 1): GradInput => ({ data: randomData(size(shape), rng(seed), lo, hi), shape });

test('cpu reference: matmul with an activation equals the unary op on the plain product, bit for bit', () => {
  // m <= 16 with transB takes the dot-product path, the others the packed one.
  for (const [m, transA, transB] of [[3, false, true], [40, false, true], [7, true, false], [20, true, true]] as const) {
    const k = 13, n = 9;
    const a = cpu.fromArray(randomData(m * k, rng(m), -2, 2)), b = cpu.fromArray(randomData(k * n, rng(k), -2, 2));
    const bias = cpu.fromArray(randomData(n, rng(5), -2, 2));
    const args: MatmulArgs = { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0, bias };
    const plain = cpu.matmul(a, b, args);
    for (const act of ACTS) {
      const want = cpu.readSync(cpu.unary(act, plain)), got = cpu.readSync(cpu.matmul(a, b, { ...args, activation: act }));
      assert.deepEqual(Array.from(got), Array.from(want), `${act} m=${m} transA=${transA} transB=${transB}`);
      assert.ok(got.some((v) => v < 0) || act === 'relu', 'negative pre-activations reached the activation');
    }
  }
});

test('gradcheck linear with each activation (batch dims, with and without bias)', () => {
  fc.assert(fc.property(fc.constantFrom(...ACTS), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 2 }),
    fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.nat(), (act, batch, k, n, withBias, seed) => {
      let inputs: GradInput[];
      if (act === 'relu') {
        // Keep every pre-activation at least ~0.1 from relu's kink: small x and w, bias away from 0.
        const r = rng(seed + 9);
        const bias = Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (0.5 + r()));
        inputs = [input([...batch, k], seed, -0.2, 0.2), input([n, k], seed + 1, -0.2, 0.2), { data: bias, shape: [n] }];
      } else {
        inputs = [input([...batch, k], seed, -2, 2), input([n, k], seed + 1), ...(withBias ? [input([n], seed + 2)] : [])];
      }
      const err = gradcheck(cpu, (x, w, b) => F.linear(x, w, b, { activation: act }), inputs);
      assert.equal(err, null, `${act}: ${err}`);
    }), { numRuns: 24 });
});

test('linear rejects an activation the epilogue does not have, naming it', () => {
  const x = tensor(new Float32Array(6), [2, 3], { backend: cpu }), w = tensor(new Float32Array(12), [4, 3], { backend: cpu });
  assert.throws(() => F.linear(x, w, null, { activation: 'tanh' as MatmulActivation }), /linear: activation "tanh" is not one of gelu_erf, gelu_tanh, silu, relu/);
});

/** Fused (noGrad) against the unfused ops, on one backend. */
async function fusedMatchesUnfused(be: Backend, tol: number): Promise<void> {
  for (const act of ACTS) {
    const x = tensor(randomData(2 * 5 * 37, rng(1), -2, 2), [2, 5, 37], { backend: be });
    const w = tensor(randomData(19 * 37, rng(2), -0.5, 0.5), [19, 37], { backend: be });
    const b = tensor(randomData(19, rng(3)), [19], { backend: be });
    const fused = noGrad(() => F.linear(x, w, b, { activation: act }));
    const unfused = noGrad(() => ACT_OP[act](F.linear(x, w, b)));
    assert.deepEqual(fused.shape, [2, 5, 19]);
    const f = await fused.data(), u = await unfused.data();
    for (let i = 0; i < u.length; i++) assert.ok(Math.abs(f[i]! - u[i]!) <= tol * (1 + Math.abs(u[i]!)), `${be.name} ${act} element ${i}: ${f[i]} vs ${u[i]}`);
  }
}

test('fused linear equals linear then the activation: cpu (exactly) and wasm', async () => {
  await fusedMatchesUnfused(cpu, 0);
  await fusedMatchesUnfused(wasm, 1e-6);
});

function gpuTest(name: string, fn: (gpu: WebGPUBackend) => Promise<void>): void {
  test(`webgpu: ${name}`, async (t: TestContext) => {
    if (gpuOrError instanceof Error) { t.skip(`no WebGPU adapter: ${gpuOrError.message}`); return; }
    await fn(gpuOrError);
  });
}

gpuTest('fused linear equals linear then the activation', async (gpu) => { await fusedMatchesUnfused(gpu, 1e-6); });

/** Dispatches per kernel that `fn` records. */
// `unary` counts the activation whether it ran as the unary kernel or inside a fused elementwise
// kernel (fusion.ts defers elementwise ops until their result is used).
function countDispatches(gpu: WebGPUBackend, fn: () => void): { total: number; matmul: number; unary: number } {
  const k = gpu.rt.dispatchesByKernel;
  const at = () => ({ total: gpu.rt.totalDispatches, matmul: k.get('matmul:matmul') ?? 0, unary: (k.get('unary:unary') ?? 0) + (k.get('fused_elementwise:fused') ?? 0) });
  const before = at();
  fn();
  const after = at();
  return { total: after.total - before.total, matmul: after.matmul - before.matmul, unary: after.unary - before.unary };
}

gpuTest('linear with an activation is one matmul dispatch under noGrad and for frozen weights; two ops when recording', async (gpu) => {
  const x = tensor(randomData(4 * 8, rng(1)), [4, 8], { backend: gpu });
  const w = tensor(randomData(6 * 8, rng(2)), [6, 8], { backend: gpu });
  const b = tensor(randomData(6, rng(3)), [6], { backend: gpu });
  for (const act of ACTS) {
    assert.deepEqual(countDispatches(gpu, () => tidy(() => { noGrad(() => F.linear(x, w, b, { activation: act })); })),
      { total: 1, matmul: 1, unary: 0 }, `${act} under noGrad`);
    // Grad mode but nothing requires a gradient (a frozen tower): fused as well.
    assert.deepEqual(countDispatches(gpu, () => tidy(() => { F.linear(x, w, b, { activation: act }); })),
      { total: 1, matmul: 1, unary: 0 }, `${act} frozen`);
    // Recording: z from the bias epilogue, then the activation as its own op (it keeps z); the
    // sum uses the activation's result, so a deferred (fused) activation runs too.
    const wg = tensor(randomData(6 * 8, rng(2)), [6, 8], { backend: gpu, requiresGrad: true });
    const rec = countDispatches(gpu, () => tidy(() => { F.linear(x, wg, b, { activation: act }).sum(); }));
    assert.deepEqual({ matmul: rec.matmul, unary: rec.unary }, { matmul: 1, unary: 1 }, `${act} recording`);
  }
});

gpuTest('nn.Sequential(Linear, GELU, Linear) runs the first Linear with the GELU epilogue', async (gpu) => {
  const mlp = new nn.Sequential(new nn.Linear(12, 16, { backend: gpu, generator: new Generator(1) }), new nn.GELU('tanh'),
    new nn.Linear(16, 5, { backend: gpu, generator: new Generator(2) }));
  const x = tensor(randomData(3 * 12, rng(4), -2, 2), [3, 12], { backend: gpu });
  let y: Tensor | undefined;
  await gpu.sync(); // computes the parameters' deferred initialisation (elementwise fusion)
  assert.deepEqual(countDispatches(gpu, () => { y = noGrad(() => mlp.forward(x)); }), { total: 2, matmul: 2, unary: 0 });
  const layers = mlp.items as [nn.Linear, nn.GELU, nn.Linear];
  const want = await noGrad(() => layers[2].forward(F.gelu(layers[0].forward(x), 'tanh'))).data();
  const got = await y!.data();
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-6 * (1 + Math.abs(want[i]!)), `element ${i}: ${got[i]} vs ${want[i]}`);
});
