// The tensor API's contracts: broadcasting rules as a property, creation, errors that name the
// problem, tidy/keep/dispose memory accounting, functional grad, seeded randomness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createCpuBackend, setBackend, getBackend, tensor, zeros, ones, full, arange, rand, randn, manualSeed, tidy, keep, noGrad,
  grad, valueAndGrad, Generator, linear, crossEntropy, add, matmul } from '../src/index.ts';
import { broadcastShapes } from '../src/shape.ts';

const backend = createCpuBackend();
setBackend(backend);

test('broadcastShapes follows NumPy rules (property)', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 5 }), fc.array(fc.nat(2), { maxLength: 5 }), fc.nat(5),
    (out, modes, drop) => {
      const a = out.map((d, i) => (modes[i] === 1 ? 1 : d));
      const b = out.map((d, i) => (modes[i] === 2 ? 1 : d)).slice(Math.min(drop, out.length));
      const got = broadcastShapes(a, b);
      // Reference: right-align, then each dim is the max (both are 1 or equal by construction).
      const want = out.map((d, i) => Math.max(a[i]!, b[i - (out.length - b.length)] ?? 1));
      assert.deepEqual(got, want);
      assert.deepEqual(broadcastShapes(b, a), want);
      // The op agrees with the rule and with elementwise semantics.
      const y = add(zeros(a), ones(b));
      assert.deepEqual(y.shape, want);
      assert.ok(Array.from(y.dataSync()).every((v) => v === 1));
    }), { numRuns: 100 });
});

test('incompatible shapes give an error naming both shapes', () => {
  assert.throws(() => add(zeros([2, 3]), zeros([4])), /\[2, 3\] and \[4\]/);
  assert.throws(() => matmul(zeros([2, 3]), zeros([4, 5])), /inner dims differ: \[2, 3\] @ \[4, 5\]/);
  assert.throws(() => linear(zeros([2, 3]), zeros([4, 5])), /input \[2, 3\] does not match weight \[4, 5\]/);
  assert.throws(() => zeros([2, 3]).reshape(4, 2), /cannot reshape \[2, 3\].*into \[4, 2\]/);
  assert.throws(() => crossEntropy(zeros([2, 3]), tensor([0, 5], undefined, { dtype: 'int32' })), /target 5 is out of range \[0, 3\)/);
  assert.throws(() => zeros([2]).slice(3, 0), /dim 3 is out of range for a tensor of rank 1/);
  assert.throws(() => tensor([[1, 2], [3]]), /do not fill shape/);
});

test('creation helpers', () => {
  assert.deepEqual(arange(5).arraySync(), [0, 1, 2, 3, 4]);
  assert.equal(arange(5).dtype, 'int32');
  assert.deepEqual(arange(0, 1, 0.25).arraySync(), [0, 0.25, 0.5, 0.75]);
  assert.deepEqual(full([2], 7).arraySync(), [7, 7]);
  assert.deepEqual(tensor([[1, 2], [3, 4]]).shape, [2, 2]);
  assert.equal(tensor(3).rank, 0);
  assert.equal(tensor(3).itemSync(), 3);
});

test('seeded random draws are reproducible and distributed as promised', () => {
  manualSeed(42);
  const a = rand([1000]).dataSync() as Float32Array, b = randn([20000]).dataSync() as Float32Array;
  manualSeed(42);
  assert.deepEqual(rand([1000]).dataSync(), a);
  assert.deepEqual(randn([20000]).dataSync(), b);
  assert.ok(a.every((v) => v >= 0 && v < 1));
  const mean = b.reduce((s, v) => s + v, 0) / b.length;
  const variance = b.reduce((s, v) => s + (v - mean) ** 2, 0) / b.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
  const g1 = new Generator(7), g2 = new Generator(7);
  assert.deepEqual(rand([5], { generator: g1 }).dataSync(), rand([5], { generator: g2 }).dataSync());
  assert.notDeepEqual(rand([5], { generator: g1 }).dataSync(), rand([5], { generator: new Generator(8) }).dataSync());
});

test('tidy frees intermediates, keeps returned and kept tensors; dispose releases storage', () => {
  const base = getBackend().memory().liveStorages;
  const x = tensor([1, 2, 3]);
  let kept: ReturnType<typeof tensor> | undefined;
  const y = tidy(() => {
    const t = x.mul(2).add(1).exp();
    kept = keep(t.sum());
    return { out: t.neg(), list: [t] };
  });
  assert.deepEqual(y.out.arraySync(), Array.from(y.list[0]!.dataSync(), (v) => -v));
  assert.equal(getBackend().memory().liveStorages, base + 4); // x, out, t, kept
  for (const t of [x, y.out, y.list[0]!, kept!]) t.dispose();
  assert.equal(getBackend().memory().liveStorages, base);
  assert.throws(() => x.dataSync(), /used after dispose/);
});

test('a 1,000-step loop in tidy keeps a constant number of live storages', () => {
  const w = keep(randn([8, 4]).requiresGrad_(true));
  const x = keep(randn([16, 4])), t = keep(randn([16, 8]));
  let at10 = 0;
  for (let step = 0; step < 1000; step++) {
    tidy(() => {
      const loss = linear(x, w).tanh().sub(t).square().mean();
      loss.backward();
      noGrad(() => w.assign(w.sub(w.grad!.mul(0.01))));
      w.zeroGrad();
    });
    if (step === 10) at10 = getBackend().memory().liveStorages;
  }
  assert.equal(getBackend().memory().liveStorages, at10);
});

test('functional grad and valueAndGrad leave .grad untouched', () => {
  const w = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const f = (x: ReturnType<typeof tensor>) => x.mul(w).square().sum();
  const [g] = grad(f)(tensor([1, 1, 1]));
  assert.deepEqual(g!.arraySync(), [2, 8, 18]);
  assert.equal(w.grad, null);
  const { value, grads } = valueAndGrad((a: ReturnType<typeof tensor>, b: ReturnType<typeof tensor>) => a.mul(b).sum())(tensor([2, 3]), tensor([5, 7]));
  assert.equal(value.itemSync(), 31);
  assert.deepEqual(grads.map((t) => t.arraySync()), [[5, 7], [2, 3]]);
});

test('noGrad records nothing; detach cuts the graph; .grad accumulates across backward calls', () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  assert.equal(noGrad(() => x.mul(2)).requiresGrad, false);
  assert.equal(x.mul(2).detach().requiresGrad, false);
  x.mul(3).sum().backward();
  x.mul(3).sum().backward();
  assert.deepEqual(x.grad!.arraySync(), [6, 6]);
  x.zeroGrad();
  assert.equal(x.grad, null);
});

test('backward seeds the output gradient with ones even when the output is inf or NaN', () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  x.mul(Infinity).sum().backward();
  assert.deepEqual(x.grad!.arraySync(), [Infinity, Infinity]);
  const [g] = grad((a: ReturnType<typeof tensor>) => a.mul(NaN).sum().mul(0))(tensor([1]));
  assert.ok(Number.isNaN((g!.arraySync() as number[])[0]));
  // An argument the function ignores gets a zero gradient, even where it holds NaN.
  const grads = grad((a: ReturnType<typeof tensor>, _b: ReturnType<typeof tensor>) => a.sum())(tensor([1]), tensor([NaN, 2]));
  assert.deepEqual(grads[1]!.arraySync(), [0, 0]);
});

test('sum over any set of axes (adjacent runs merged into one pass, gaps kept) matches a plain loop (property)', async () => {
  await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    async (shape, pick) => {
      const axes = shape.flatMap((_, i) => (pick[i] ? [i] : []));
      const n = shape.reduce((p, d) => p * d, 1);
      const data = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 23) - 11);
      const got = await tidy(() => tensor(data, shape).sum(axes, true)).data();
      const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const want = new Float64Array(outShape.reduce((p, d) => p * d, 1));
      for (let i = 0; i < n; i++) {
        let rem = i, o = 0, stride = 1;
        for (let d = shape.length - 1; d >= 0; d--) {
          const c = rem % shape[d]!; rem = Math.floor(rem / shape[d]!);
          o += (axes.includes(d) ? 0 : c) * stride; stride *= outShape[d]!;
        }
        want[o]! += data[i]!;
      }
      assert.deepEqual([...got], [...want]);
    }), { numRuns: 60 });
});
