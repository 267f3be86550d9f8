// nn layers: PyTorch state-dict names and shapes, default initialisation, forward equal to the
// functional op, gradients reaching every parameter, train/eval, freezing, strict loading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../src/ops/index.ts';
import { nn, noGrad, tidy, StateDictError, type Tensor } from '../src/index.ts';
import { Generator, manualSeed } from '../src/ops/random.ts';
import { isClose } from '../../../test/helpers/close.ts';

const values = (t: Tensor): number[] => Array.from(t.dataSync());
const shapes = (m: nn.Module): Record<string, number[]> =>
  Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, [...t.shape]]));

function assertClose(a: Tensor | number[], b: Tensor | number[], tol = 1e-6): void {
  const x = Array.isArray(a) ? a : values(a), y = Array.isArray(b) ? b : values(b);
  assert.equal(x.length, y.length, 'lengths differ');
  x.forEach((v, i) => assert.ok(isClose(v, y[i]!, tol, tol), `element ${i}: ${v} vs ${y[i]}`));
}

/** sum(y * r) with a fixed random r, so every output element gets a distinct gradient. */
function probeLoss(y: Tensor, seed = 3): Tensor {
  const r = noGrad(() => F.randn(y.shape, { generator: new Generator(seed) }));
  return F.sum(F.mul(y, r));
}

function assertAllGrads(m: nn.Module): void {
  for (const [k, p] of m.namedParameters()) {
    assert.ok(p.grad, `${k} has no gradient`);
    assert.deepEqual(p.grad.shape, p.shape, `${k} gradient shape`);
    assert.ok(values(p.grad).some((v) => v !== 0), `${k} gradient is all zeros`);
  }
}

test('Linear: keys, shapes, PyTorch default init bounds, forward = F.linear, gradients', () => tidy(() => {
  const lin = new nn.Linear(12, 5, { generator: new Generator(1) });
  assert.deepEqual(shapes(lin), { weight: [5, 12], bias: [5] });
  const bound = 1 / Math.sqrt(12);
  for (const p of [lin.weight, lin.bias!]) {
    const v = values(p);
    assert.ok(v.every((x) => Math.abs(x) <= bound), 'init outside U(-1/sqrt(fan_in), 1/sqrt(fan_in))');
    assert.ok(Math.max(...v) > bound / 2 && Math.min(...v) < -bound / 2, 'init does not spread over the bound');
  }
  const x = F.randn([2, 3, 12], { generator: new Generator(2) });
  const y = lin.forward(x);
  assert.deepEqual(y.shape, [2, 3, 5]);
  assertClose(y, F.linear(x, lin.weight, lin.bias));
  probeLoss(y).backward();
  assertAllGrads(lin);

  const noBias = new nn.Linear(4, 3, { bias: false });
  assert.deepEqual(shapes(noBias), { weight: [3, 4] });
  assert.equal(noBias.bias, null);
}));

test('init: the generator option and manualSeed make weights reproducible', () => tidy(() => {
  const a = new nn.Linear(8, 8, { generator: new Generator(42) });
  const b = new nn.Linear(8, 8, { generator: new Generator(42) });
  const c = new nn.Linear(8, 8, { generator: new Generator(43) });
  assert.deepEqual(values(a.weight), values(b.weight));
  assert.deepEqual(values(a.bias!), values(b.bias!));
  assert.notDeepEqual(values(a.weight), values(c.weight));
  manualSeed(5);
  const d = new nn.Embedding(4, 3);
  manualSeed(5);
  const e = new nn.Embedding(4, 3);
  assert.deepEqual(values(d.weight), values(e.weight));
}));

test('init: kaimingUniform bound for other a, xavierUniform bound, fan in/out of conv weights, in-place forms keep identity', () => tidy(() => {
  assert.deepEqual(nn.init.fanInAndFanOut([6, 3, 5, 5]), { fanIn: 75, fanOut: 150 });
  const w = nn.init.kaimingUniform([50, 20], 0, { generator: new Generator(0) });
  const bound = Math.sqrt(2) * Math.sqrt(3 / 20);
  assert.ok(values(w).every((v) => Math.abs(v) <= bound) && values(w).some((v) => Math.abs(v) > 0.9 * bound));
  const xw = values(nn.init.xavierUniform([30, 10], 1, { generator: new Generator(1) }));
  const xb = Math.sqrt(6 / 40);
  assert.ok(xw.every((v) => Math.abs(v) <= xb) && xw.some((v) => Math.abs(v) > 0.9 * xb));
  const lin = new nn.Linear(3, 3);
  const before = lin.weight;
  nn.init.zeros_(lin.weight);
  assert.equal(lin.weight, before);
  assert.deepEqual(values(lin.weight), new Array(9).fill(0));
  nn.init.normal_(lin.bias!, 10, 0.001, new Generator(1));
  assert.ok(values(lin.bias!).every((v) => Math.abs(v - 10) < 0.01));
}));

test('Embedding: N(0, 1) init, lookup of any id shape, repeated ids accumulate gradient', () => tidy(() => {
  const emb = new nn.Embedding(100, 50, { generator: new Generator(9) });
  assert.deepEqual(shapes(emb), { weight: [100, 50] });
  const w = values(emb.weight);
  const mean = w.reduce((s, v) => s + v, 0) / w.length;
  const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
  assert.ok(Math.abs(mean) < 0.05 && Math.abs(std - 1) < 0.05, `mean ${mean}, std ${std}`);
  const ids = F.tensor([[3, 7, 3]], undefined, { dtype: 'int32' });
  const y = emb.forward(ids);
  assert.deepEqual(y.shape, [1, 3, 50]);
  assertClose(y, F.embedding(ids, emb.weight));
  F.sum(y).backward();
  const g = emb.weight.grad!.arraySync() as number[][];
  assert.equal(g[3]![0], 2);
  assert.equal(g[7]![0], 1);
  assert.equal(g[0]![0], 0);
}));

test('LayerNorm: ones/zeros affine, forward = F.layerNorm, no keys without affine', () => tidy(() => {
  const ln = new nn.LayerNorm(6, { eps: 1e-6 });
  assert.deepEqual(shapes(ln), { weight: [6], bias: [6] });
  assert.deepEqual(values(ln.weight!), new Array(6).fill(1));
  assert.deepEqual(values(ln.bias!), new Array(6).fill(0));
  nn.init.normal_(ln.weight!, 1, 0.5, new Generator(4));
  nn.init.normal_(ln.bias!, 0, 0.5, new Generator(5));
  const x = F.randn([3, 4, 6], { generator: new Generator(6) });
  const y = ln.forward(x);
  assertClose(y, F.layerNorm(x, [6], ln.weight, ln.bias, 1e-6));
  probeLoss(y).backward();
  assertAllGrads(ln);

  const ln2 = new nn.LayerNorm([4, 6]);
  assert.deepEqual(shapes(ln2), { weight: [4, 6], bias: [4, 6] });
  assertClose(ln2.forward(x), F.layerNorm(x, [4, 6], null, null, 1e-5));
  assert.deepEqual(shapes(new nn.LayerNorm(6, { elementwiseAffine: false })), {});
  assert.deepEqual(shapes(new nn.LayerNorm(6, { bias: false })), { weight: [6] });
}));

test('RMSNorm: weight only (Qwen2RMSNorm), eps 1e-6, forward = F.rmsNorm', () => tidy(() => {
  const rms = new nn.RMSNorm(8);
  assert.deepEqual(shapes(rms), { weight: [8] });
  assert.equal(rms.eps, 1e-6);
  nn.init.normal_(rms.weight, 1, 0.3, new Generator(1));
  const x = F.randn([2, 5, 8], { generator: new Generator(2) });
  const y = rms.forward(x);
  assertClose(y, F.rmsNorm(x, rms.weight, 1e-6));
  probeLoss(y).backward();
  assertAllGrads(rms);
}));

test('Conv2d: [out, in, kh, kw] weight, fan-in bound, forward = F.conv2d with stride and asymmetric padding', () => tidy(() => {
  const conv = new nn.Conv2d(3, 4, [3, 2], { stride: 2, padding: [0, 1, 0, 1], generator: new Generator(3) });
  assert.deepEqual(shapes(conv), { weight: [4, 3, 3, 2], bias: [4] });
  const bound = 1 / Math.sqrt(3 * 3 * 2);
  assert.ok([...values(conv.weight), ...values(conv.bias!)].every((v) => Math.abs(v) <= bound));
  const x = F.randn([2, 3, 7, 6], { generator: new Generator(4) });
  const y = conv.forward(x);
  assertClose(y, F.conv2d(x, conv.weight, conv.bias, { stride: 2, padding: [0, 1, 0, 1] }));
  probeLoss(y).backward();
  assertAllGrads(conv);
  assert.deepEqual(shapes(new nn.Conv2d(2, 2, 1, { bias: false })), { weight: [2, 2, 1, 1] });
}));

test('GroupNorm: per-channel weight and bias, forward = F.groupNorm', () => tidy(() => {
  const gn = new nn.GroupNorm(2, 6, { eps: 1e-6 });
  assert.deepEqual(shapes(gn), { weight: [6], bias: [6] });
  nn.init.normal_(gn.weight!, 1, 0.5, new Generator(1));
  nn.init.normal_(gn.bias!, 0, 0.5, new Generator(2));
  const x = F.randn([2, 6, 3, 3], { generator: new Generator(3) });
  const y = gn.forward(x);
  assertClose(y, F.groupNorm(x, 2, gn.weight, gn.bias, 1e-6));
  probeLoss(y).backward();
  assertAllGrads(gn);
  assert.deepEqual(shapes(new nn.GroupNorm(3, 6, { affine: false })), {});
  assert.throws(() => new nn.GroupNorm(4, 6), /do not split/);
}));

test('activation modules equal the functional ops', () => tidy(() => {
  const x = F.randn([4, 5], { generator: new Generator(1) });
  assertClose(new nn.GELU().forward(x), F.gelu(x));
  assertClose(new nn.GELU('tanh').forward(x), F.gelu(x, 'tanh'));
  assertClose(new nn.SiLU().forward(x), F.silu(x));
  assertClose(new nn.ReLU().forward(x), F.relu(x));
  assertClose(new nn.Tanh().forward(x), F.tanh(x));
  assertClose(new nn.Sigmoid().forward(x), F.sigmoid(x));
  assert.equal(new nn.Identity().forward(x), x);
}));

test('Dropout: drops and rescales in training, identity in eval; train/eval reach nested children', () => tidy(() => {
  const drop = new nn.Dropout(0.5, { generator: new Generator(11) });
  const x = F.ones([1000]);
  const y = values(drop.forward(x));
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(zeros > 400 && zeros < 600, `${zeros} of 1000 dropped`);
  assert.ok(y.every((v) => v === 0 || v === 2), 'kept values are scaled by 1/(1-p)');
  const seq = new nn.Sequential(new nn.Linear(4, 4), drop);
  seq.eval();
  assert.equal(drop.training, false);
  assert.equal(drop.forward(x), x);
  seq.train();
  assert.equal(drop.training, true);
  assert.notEqual(drop.forward(x), x);
  assert.throws(() => new nn.Dropout(1.5), /p must be in/);
}));

test('Sequential: children named 0, 1, 2 (mlp2x_gelu keys), forward chains them', () => tidy(() => {
  const mlp = new nn.Sequential(new nn.Linear(6, 8), new nn.GELU(), new nn.Linear(8, 4));
  assert.deepEqual(shapes(mlp), { '0.weight': [8, 6], '0.bias': [8], '2.weight': [4, 8], '2.bias': [4] });
  assert.equal(mlp.length, 3);
  const x = F.randn([3, 6], { generator: new Generator(1) });
  const [l0, , l2] = mlp.items as [nn.Linear, nn.GELU, nn.Linear];
  assertClose(mlp.forward(x), F.linear(F.gelu(F.linear(x, l0.weight, l0.bias)), l2.weight, l2.bias));
  probeLoss(mlp.forward(x)).backward();
  assertAllGrads(mlp);
}));

test('requiresGrad_(false) freezes every parameter: no gradients, and no graph without a trainable input', () => tidy(() => {
  const mlp = new nn.Sequential(new nn.Linear(3, 3), new nn.SiLU(), new nn.Linear(3, 2));
  mlp.requiresGrad_(false);
  assert.equal(mlp.forward(F.ones([2, 3])).requiresGrad, false);
  const x = F.randn([2, 3], { generator: new Generator(1) }).requiresGrad_(true);
  const y = mlp.forward(x);
  F.sum(y).backward();
  assert.ok(x.grad, 'input still gets a gradient');
  for (const [k, p] of mlp.namedParameters()) assert.equal(p.grad, null, `${k} got a gradient while frozen`);
  mlp.requiresGrad_(true);
  F.sum(mlp.forward(x)).backward();
  assertAllGrads(mlp);
}));

test('loadStateDict strict: the error names every missing, unexpected and mis-shaped key; nothing changes', () => tidy(() => {
  const mlp = new nn.Sequential(new nn.Linear(4, 3), new nn.GELU(), new nn.Linear(3, 2));
  const first = mlp.at(0) as nn.Linear;
  const before = values(first.weight);
  const sd = new Map<string, Tensor>([
    ['0.weight', F.zeros([3, 4])],
    ['0.bias', F.zeros([5])], // mis-shaped
    ['2.weight', F.zeros([2, 3])],
    // 2.bias missing
    ['1.weight', F.zeros([1])], // unexpected (GELU has no parameters)
    ['head.bias', F.zeros([2])], // unexpected
  ]);
  let err: unknown;
  try { mlp.loadStateDict(sd); } catch (e) { err = e; }
  assert.ok(err instanceof StateDictError, 'strict load throws a StateDictError');
  const msg = err.message;
  for (const key of ['missing keys: 2.bias', 'unexpected keys: 1.weight, head.bias', '0.bias: checkpoint [5], model [3]']) {
    assert.ok(msg.includes(key), `message "${msg}" lacks "${key}"`);
  }
  assert.deepEqual(err.result, { missing: ['2.bias'], unexpected: ['1.weight', 'head.bias'], mismatched: ['0.bias: checkpoint [5], model [3]'] });
  assert.deepEqual(values(first.weight), before, 'a failed strict load changed a parameter');

  const result = mlp.loadStateDict(sd, { strict: false });
  assert.deepEqual(result, err.result);
  assert.deepEqual(values(first.weight), new Array(12).fill(0), 'non-strict load copies the good keys');
  assert.ok(values(first.bias!).some((v) => v !== 0), 'the mis-shaped key is left alone');
}));

test('loadStateDict round trip: a second model loaded from the first computes the same outputs', () => tidy(() => {
  const make = (seed: number): nn.Sequential => new nn.Sequential(
    new nn.Conv2d(2, 4, 3, { padding: 1, generator: new Generator(seed) }), new nn.GroupNorm(2, 4), new nn.SiLU(),
    new nn.Conv2d(4, 2, 1, { generator: new Generator(seed + 1) }));
  const a = make(1), b = make(7);
  const x = F.randn([1, 2, 5, 5], { generator: new Generator(3) });
  assert.notDeepEqual(values(a.forward(x)), values(b.forward(x)));
  b.loadStateDict(a.stateDict());
  assert.deepEqual(values(a.forward(x)), values(b.forward(x)));
}));
