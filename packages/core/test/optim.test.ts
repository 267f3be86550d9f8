// Optimizers against their update rules written out in plain float64 JS, gradient clipping,
// learning-rate schedules, and optimizer state dicts that resume training exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../src/ops/index.ts';
import { keep, nn, noGrad, optim, tidy, type Tensor } from '../src/index.ts';
import { Generator } from '../src/ops/random.ts';

const values = (t: Tensor): number[] => Array.from(t.dataSync());

function assertClose(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) <= tol, `${what}[${i}]: ${v} vs expected ${expected[i]}`));
}

/** A leaf parameter holding vals. */
function param(vals: number[], shape: number[] = [vals.length]): Tensor {
  return keep(F.tensor(vals, shape)).requiresGrad_(true);
}

/** Sets p.grad by hand (null drops it), as backward() would leave it. */
function setGrad(p: Tensor, vals: number[] | null): void {
  p.zeroGrad();
  if (vals) p.grad = keep(F.tensor(vals, p.shape));
}

/** Deterministic, varying gradients: step s, element i. */
const gradAt = (s: number, n: number, scale = 1): number[] =>
  Array.from({ length: n }, (_, i) => scale * Math.sin(1.7 * s + 0.9 * i + 0.3) * (1 + 0.5 * i));

// --- AdamW ---------------------------------------------------------------------------------

interface AdamRef { p: number[]; m: number[]; v: number[]; step: number }

/** PyTorch's AdamW update in float64. */
function adamwRef(s: AdamRef, g: number[], lr: number, wd: number, b1 = 0.9, b2 = 0.999, eps = 1e-8): void {
  s.step++;
  const bc1 = 1 - b1 ** s.step, bc2 = 1 - b2 ** s.step;
  for (let i = 0; i < s.p.length; i++) {
    s.p[i]! *= 1 - lr * wd;
    s.m[i] = b1 * s.m[i]! + (1 - b1) * g[i]!;
    s.v[i] = b2 * s.v[i]! + (1 - b2) * g[i]! ** 2;
    s.p[i]! -= (lr / bc1) * s.m[i]! / (Math.sqrt(s.v[i]!) / Math.sqrt(bc2) + eps);
  }
}
const refOf = (p: number[]): AdamRef => ({ p: [...p], m: p.map(() => 0), v: p.map(() => 0), step: 0 });

test('AdamW: 5 steps with PyTorch defaults match the hand-computed rule; a parameter without grad is skipped', () => tidy(() => {
  const a0 = [0.5, -1.2, 2.0, 0.1, -0.3, 0.8], b0 = [1.0, -2.0, 0.25, 3.0];
  const a = param(a0, [2, 3]), b = param(b0);
  const opt = new optim.AdamW([a, b]);
  assert.deepEqual(opt.defaults, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2 });
  const ra = refOf(a0), rb = refOf(b0);
  for (let s = 0; s < 5; s++) {
    const ga = gradAt(s, 6), gb = s === 2 ? null : gradAt(s, 4, 0.01);
    setGrad(a, ga); setGrad(b, gb);
    opt.step();
    adamwRef(ra, ga, 1e-3, 1e-2);
    if (gb) adamwRef(rb, gb, 1e-3, 1e-2);
    assertClose(values(a), ra.p, 1e-6, `step ${s + 1} a`);
    assertClose(values(b), rb.p, 1e-6, `step ${s + 1} b`);
  }
  const sd = opt.stateDict();
  assert.equal(sd.state.get(0)!.step, 5);
  assert.equal(sd.state.get(1)!.step, 4, 'the step without a gradient did not count');
  assertClose(values(sd.state.get(0)!.exp_avg as Tensor), ra.m, 1e-6, 'exp_avg');
  assertClose(values(sd.state.get(0)!.exp_avg_sq as Tensor), ra.v, 1e-8, 'exp_avg_sq');
  opt.dispose();
}));

test('AdamW: betas, eps, a changed lr and per-group options follow the rule', () => tidy(() => {
  const a0 = [0.3, -0.7, 1.1], b0 = [2.0, -0.5];
  const a = param(a0), b = param(b0);
  const opt = new optim.AdamW([{ params: [a], lr: 1e-2, weightDecay: 0 }, { params: [b] }], { betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 });
  const ra = refOf(a0), rb = refOf(b0);
  for (let s = 0; s < 5; s++) {
    if (s === 3) opt.lr = 5e-3; // sets every group
    const lrA = s >= 3 ? 5e-3 : 1e-2, lrB = s >= 3 ? 5e-3 : 1e-3;
    const ga = gradAt(s, 3), gb = gradAt(s + 10, 2, 3);
    setGrad(a, ga); setGrad(b, gb);
    opt.step();
    adamwRef(ra, ga, lrA, 0, 0.8, 0.99, 1e-6);
    adamwRef(rb, gb, lrB, 0.1, 0.8, 0.99, 1e-6);
    assertClose(values(a), ra.p, 1e-6, `step ${s + 1} a`);
    assertClose(values(b), rb.p, 1e-6, `step ${s + 1} b`);
  }
  opt.dispose();
}));

test('AdamW and SGD: random hyper-parameters, gradients and skipped steps follow the float64 rules (property)', () => {
  const hyper = fc.record({
    lr: fc.double({ min: 1e-4, max: 0.1, noNaN: true }),
    b1: fc.double({ min: 0, max: 0.99, noNaN: true }),
    b2: fc.double({ min: 0.9, max: 0.9999, noNaN: true }),
    eps: fc.constantFrom(1e-8, 1e-6, 1e-3),
    wd: fc.double({ min: 0, max: 0.5, noNaN: true }),
    momentum: fc.double({ min: 0, max: 0.95, noNaN: true }),
    dampening: fc.double({ min: 0, max: 0.5, noNaN: true }),
  });
  const steps = fc.array(fc.option(fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 3, maxLength: 3 }), { nil: null }), { minLength: 1, maxLength: 6 });
  fc.assert(fc.property(hyper, steps, fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 3, maxLength: 3 }), (h, grads, p0) => tidy(() => {
    const f32 = (v: number[]): number[] => Array.from(Float32Array.from(v));
    const start = f32(p0), gs = grads.map((g) => (g ? f32(g) : null));
    const a = param(start), s = param(start);
    const adam = new optim.AdamW([a], { lr: h.lr, betas: [h.b1, h.b2], eps: h.eps, weightDecay: h.wd });
    const sgd = new optim.SGD([s], { lr: h.lr, momentum: h.momentum, dampening: h.dampening, weightDecay: h.wd });
    const ref = refOf(start);
    const sgdExpected = sgdRef(start, gs, { lr: h.lr, momentum: h.momentum, dampening: h.dampening, weightDecay: h.wd });
    gs.forEach((g, i) => {
      setGrad(a, g); setGrad(s, g);
      adam.step(); sgd.step();
      if (g) adamwRef(ref, g, h.lr, h.wd, h.b1, h.b2, h.eps);
      assertClose(values(a), ref.p, 2e-5, `AdamW step ${i + 1}`);
      assertClose(values(s), sgdExpected[i]!, 2e-5 * (1 + Math.max(...sgdExpected[i]!.map(Math.abs))), `SGD step ${i + 1}`);
    });
    adam.dispose(); sgd.dispose();
  })), { numRuns: 60, seed: 1 });
});

test('AdamW: an update never writes through a storage shared with another tensor', () => tidy(() => {
  const p = param([1, 2, 3]);
  const view = p.detach(); // shares p's storage
  const opt = new optim.AdamW([p], { lr: 0.1 });
  setGrad(p, [1, 1, 1]);
  opt.step();
  assert.deepEqual(values(view), [1, 2, 3], 'the shared storage was modified in place');
  assert.ok(values(p).every((v, i) => v < i + 1), 'the parameter moved');
  opt.dispose();
}));

test('optimizer: rejects repeated and non-float parameters', () => tidy(() => {
  const p = param([1]);
  assert.throws(() => new optim.AdamW([p, p]), /appears twice/);
  assert.throws(() => new optim.SGD([F.tensor([1], undefined, { dtype: 'int32' })]), /int32, expected float32/);
  assert.throws(() => new optim.SGD([p], { nesterov: true }), /Nesterov/);
}));

// --- SGD -----------------------------------------------------------------------------------

interface SgdOpts { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }

/** torch.optim.SGD in float64. */
function sgdRef(p: number[], grads: (number[] | null)[], o: SgdOpts): number[][] {
  const out: number[][] = [];
  const state: { buf?: number[] } = {};
  const mom = o.momentum ?? 0, damp = o.dampening ?? 0, wd = o.weightDecay ?? 0;
  for (const g of grads) {
    if (g) {
      let d = g.map((gi, i) => gi + wd * p[i]!);
      if (mom !== 0) {
        const buf = state.buf ? state.buf.map((bi, i) => mom * bi + (1 - damp) * d[i]!) : [...d];
        state.buf = buf;
        d = o.nesterov ? d.map((di, i) => di + mom * buf[i]!) : buf;
      }
      p = p.map((pi, i) => pi - o.lr * d[i]!);
    }
    out.push([...p]);
  }
  return out;
}

for (const o of [
  { lr: 0.1 },
  { lr: 0.05, momentum: 0.9 },
  { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 },
  { lr: 0.02, momentum: 0.8, nesterov: true, weightDecay: 0.05 },
] as SgdOpts[]) {
  test(`SGD ${JSON.stringify(o)}: 5 steps match torch.optim.SGD's rule, steps without grad skipped`, () => tidy(() => {
    const p0 = [0.5, -1.5, 2.5, 0.2];
    const p = param(p0);
    const opt = new optim.SGD([p], o);
    const grads = [0, 1, 2, 3, 4].map((s) => (s === 2 ? null : gradAt(s, 4)));
    const expected = sgdRef(p0, grads, o);
    grads.forEach((g, s) => {
      setGrad(p, g);
      opt.step();
      assertClose(values(p), expected[s]!, 1e-6, `step ${s + 1}`);
    });
    opt.dispose();
  }));
}

// --- clipGradNorm --------------------------------------------------------------------------

test('clipGradNorm: total 2-norm over all grads, scaled by maxNorm / (norm + 1e-6)', () => tidy(() => {
  const a = param([0, 0]), b = param([0], [1, 1]), c = param([5]);
  setGrad(a, [3, 4]); setGrad(b, [12]); // total norm 13; c has no grad and is ignored
  const gradA = a.grad!;
  const norm = optim.clipGradNorm([a, b, c], 6.5);
  assert.deepEqual(norm.shape, []);
  assert.ok(Math.abs(norm.itemSync() - 13) < 1e-5);
  const scale = 6.5 / (13 + 1e-6);
  assertClose(values(a.grad!), [3 * scale, 4 * scale], 1e-6, 'a.grad');
  assertClose(values(b.grad!), [12 * scale], 1e-6, 'b.grad');
  assert.equal(a.grad, gradA, 'the grad tensor keeps its identity');
  assert.equal(c.grad, null);
}));

test('clipGradNorm: under maxNorm the gradients are unchanged; Infinity norm; no grads gives 0', () => tidy(() => {
  const a = param([0, 0, 0]);
  const g = [0.1, -0.2, 0.05];
  setGrad(a, g);
  const before = values(a.grad!);
  const n = optim.clipGradNorm([a], 1);
  assert.ok(Math.abs(n.itemSync() - Math.hypot(...g)) < 1e-6);
  assert.deepEqual(values(a.grad!), before, 'gradients changed although the norm is under the maximum');

  setGrad(a, [1, -6, 2]);
  const inf = optim.clipGradNorm([a], 3, Infinity);
  assert.equal(inf.itemSync(), 6);
  assertClose(values(a.grad!), [0.5, -3, 1], 1e-6, 'inf-norm clipped');

  assert.equal(optim.clipGradNorm([param([1])], 1).itemSync(), 0);
}));

// --- schedules -----------------------------------------------------------------------------

test('warmupCosine: 0 at step 0, base lr at the end of warmup, halfway at mid-decay, minLr at the end', () => {
  const s = optim.warmupCosine({ warmupSteps: 10, totalSteps: 110, minLr: 1e-5 });
  const base = 1e-3;
  assert.equal(s(0, base), 0);
  assert.ok(Math.abs(s(5, base) - 5e-4) < 1e-15);
  assert.ok(Math.abs(s(10, base) - base) < 1e-15);
  assert.ok(Math.abs(s(60, base) - (1e-5 + (base - 1e-5) / 2)) < 1e-15);
  assert.ok(Math.abs(s(35, base) - (1e-5 + (base - 1e-5) * 0.5 * (1 + Math.cos(Math.PI / 4)))) < 1e-15);
  assert.ok(Math.abs(s(110, base) - 1e-5) < 1e-15);
  assert.ok(Math.abs(s(500, base) - 1e-5) < 1e-15, 'stays at minLr after totalSteps');
  const noWarmup = optim.warmupCosine({ warmupSteps: 0, totalSteps: 4 });
  assert.equal(noWarmup(0, 1), 1);
  assert.ok(Math.abs(noWarmup(4, 1)) < 1e-15);
  assert.throws(() => optim.warmupCosine({ warmupSteps: 10, totalSteps: 5 }), /warmupSteps/);
});

test('LRScheduler: sets every group from its own base lr, steps, and round-trips its state', () => tidy(() => {
  const a = param([1]), b = param([1]);
  const opt = new optim.AdamW([{ params: [a], lr: 1e-2 }, { params: [b], lr: 1e-3 }]);
  const sched = new optim.LRScheduler(opt, optim.warmupCosine({ warmupSteps: 4, totalSteps: 8 }));
  assert.deepEqual(sched.lastLr(), [0, 0]);
  for (let i = 0; i < 2; i++) sched.step();
  assert.deepEqual(sched.lastLr(), [5e-3, 5e-4]);
  for (let i = 0; i < 2; i++) sched.step();
  assert.deepEqual(sched.lastLr(), [1e-2, 1e-3]);
  assert.equal(opt.lr, 1e-2);
  const saved = sched.stateDict();
  const opt2 = new optim.AdamW([{ params: [a], lr: 1e-2 }, { params: [b], lr: 1e-3 }]);
  const sched2 = new optim.LRScheduler(opt2, optim.warmupCosine({ warmupSteps: 4, totalSteps: 8 }));
  sched2.loadStateDict(saved);
  sched.step(); sched2.step();
  assert.deepEqual(sched2.lastLr(), sched.lastLr());
}));

// --- state dicts ---------------------------------------------------------------------------

function makeModel(seed: number): nn.Sequential {
  const g = new Generator(seed);
  return new nn.Sequential(new nn.Linear(3, 8, { generator: g }), new nn.SiLU(), new nn.Linear(8, 2, { generator: g }));
}

function trainSteps(model: nn.Sequential, opt: optim.Optimizer<optim.BaseHyper, optim.ParamState>, x: Tensor, y: Tensor, n: number): void {
  for (let i = 0; i < n; i++) {
    tidy(() => {
      F.mseLoss(model.forward(x), y).backward();
      opt.step();
      opt.zeroGrad();
    });
  }
}

/** Copies of a module's tensors (the module's own are updated in place by AdamW). */
const snapshot = (m: nn.Module): Map<string, Tensor> => noGrad(() => new Map([...m.stateDict()].map(([k, t]) => [k, t.mul(1)])));
const paramValues = (m: nn.Module): number[][] => m.parameters().map(values);

for (const [name, makeOpt] of [
  ['AdamW', (m: nn.Module) => new optim.AdamW(m.parameters(), { lr: 1e-2 })],
  ['SGD', (m: nn.Module) => new optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true })],
] as const) {
  test(`${name} state dict: 3 steps, save, 3 more equals restore into a new model and optimizer, 3 more`, () => tidy(() => {
    const x = F.randn([16, 3], { generator: new Generator(1) }), y = F.randn([16, 2], { generator: new Generator(2) });
    const model = makeModel(10);
    const opt = makeOpt(model);
    trainSteps(model, opt, x, y, 3);
    const savedModel = snapshot(model), savedOpt = opt.stateDict();
    trainSteps(model, opt, x, y, 3);
    const straight = paramValues(model);

    const resumed = makeModel(99);
    resumed.loadStateDict(savedModel);
    const opt2 = makeOpt(resumed);
    opt2.loadStateDict(savedOpt);
    trainSteps(resumed, opt2, x, y, 3);
    assert.deepEqual(paramValues(resumed), straight, 'resumed training differs');

    // Without the optimizer state the result differs (the test has teeth).
    const fresh = makeModel(99);
    fresh.loadStateDict(savedModel);
    const opt3 = makeOpt(fresh);
    trainSteps(fresh, opt3, x, y, 3);
    assert.notDeepEqual(paramValues(fresh), straight);
    for (const o of [opt, opt2, opt3]) o.dispose();
  }));
}

test('optimizer loadStateDict: mismatched groups, sizes and shapes throw and leave the optimizer unchanged', () => tidy(() => {
  const a = param([1, 2]), b = param([3]);
  const opt = new optim.AdamW([a, b]);
  setGrad(a, [1, 1]); setGrad(b, [1]);
  opt.step();
  const good = opt.stateDict();

  const other = new optim.AdamW([param([0, 0]), param([0])]);
  const two = new optim.AdamW([{ params: [param([0, 0])] }, { params: [param([0])] }]);
  assert.throws(() => two.loadStateDict(good), /1 param groups, the optimizer 2/);
  const short = new optim.AdamW([param([0, 0])]);
  assert.throws(() => short.loadStateDict(good), /param group 0 has 2 parameters in the state dict, 1 in the optimizer/);

  const swapped: optim.OptimizerStateDict = { paramGroups: good.paramGroups, state: new Map([[0, good.state.get(1)!], [1, good.state.get(0)!]]) };
  assert.throws(() => other.loadStateDict(swapped), /parameter 0 "exp_avg" is \[1\] float32, the parameter \[2\] float32/);
  assert.equal(other.stateDict().state.size, 0, 'a failed load changed the state');

  const noStep: optim.OptimizerStateDict = { paramGroups: good.paramGroups, state: new Map([[0, { exp_avg: good.state.get(0)!.exp_avg!, exp_avg_sq: good.state.get(0)!.exp_avg_sq! }]]) };
  assert.throws(() => other.loadStateDict(noStep), /parameter 0 has no number "step"/);

  other.loadStateDict({ ...good, paramGroups: [{ ...good.paramGroups[0]!, lr: 0.5 }] });
  assert.equal(other.lr, 0.5, 'group hyper-parameters come from the state dict');
  assert.equal(other.stateDict().state.get(1)!.step, 1);
  for (const o of [opt, other, two, short]) o.dispose();
}));

test('optimizer state through a safetensors file (flatten/unflatten) resumes training identically', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { fromSafetensors, openCheckpoint, saveSafetensors } = await import('../src/index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'optim-ckpt-'));
  try {
    const x = F.randn([16, 3], { generator: new Generator(1) }), y = F.randn([16, 2], { generator: new Generator(2) });
    const model = makeModel(10);
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
    trainSteps(model, opt, x, y, 3);
    await saveSafetensors(join(dir, 'model.safetensors'), model.stateDict());
    const flat = optim.flattenOptimizerState(opt.stateDict());
    assert.deepEqual([...flat.tensors.keys()].sort(), ['state.0.exp_avg', 'state.0.exp_avg_sq', 'state.1.exp_avg', 'state.1.exp_avg_sq',
      'state.2.exp_avg', 'state.2.exp_avg_sq', 'state.3.exp_avg', 'state.3.exp_avg_sq']);
    await saveSafetensors(join(dir, 'optimizer.safetensors'), flat.tensors, { metadata: flat.metadata });
    trainSteps(model, opt, x, y, 3);
    const straight = paramValues(model);

    const resumed = makeModel(99);
    resumed.loadStateDict(fromSafetensors(join(dir, 'model.safetensors')));
    const opt2 = new optim.AdamW(resumed.parameters(), { lr: 1e-2 });
    const file = openCheckpoint(join(dir, 'optimizer.safetensors'));
    const metadata = { ...file.metadata };
    file.close();
    opt2.loadStateDict(optim.unflattenOptimizerState(fromSafetensors(join(dir, 'optimizer.safetensors')), metadata));
    assert.equal(opt2.stateDict().state.get(0)!.step, 3);
    trainSteps(resumed, opt2, x, y, 3);
    assert.deepEqual(paramValues(resumed), straight);
    opt.dispose(); opt2.dispose(); model.dispose(); resumed.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
