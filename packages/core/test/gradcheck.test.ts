// Every differentiable op against central finite differences, on shapes drawn by fast-check
// (size-1 and broadcast dims, batch dims, odd sizes), on the CPU reference backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as F from '../src/ops/index.ts';
import { createCpuBackend, tensor, type Tensor } from '../src/index.ts';
import { gradcheck, randomData, rng, type GradInput } from '../../../test/helpers/gradcheck.ts';

const backend = createCpuBackend();
const RUNS = 12;

const dims = (max: number, minRank = 1, maxRank = 3) => fc.array(fc.integer({ min: 1, max }), { minLength: minRank, maxLength: maxRank });
const size = (s: number[]) => s.reduce((p, d) => p * d, 1);

function input(shape: number[], seed: number, lo = -1, hi = 1): GradInput {
  return { data: randomData(size(shape), rng(seed), lo, hi), shape };
}
/** Values whose magnitude is at least `gap` (away from kinks at 0). */
function awayFromZero(shape: number[], seed: number, gap = 0.2): GradInput {
  const r = rng(seed);
  return { data: Float32Array.from({ length: size(shape) }, () => (r() < 0.5 ? -1 : 1) * (gap + r())), shape };
}
/** Distinct values (no ties for max/min), shuffled. */
function distinct(shape: number[], seed: number): GradInput {
  const n = size(shape), r = rng(seed);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.1);
  for (let i = n - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [v[i], v[j]] = [v[j]!, v[i]!]; }
  return { data: Float32Array.from(v), shape };
}

/** Distinct values at least 1 apart, shuffled. */
function spread(shape: number[], seed: number): GradInput {
  const d = distinct(shape, seed);
  return { data: d.data.map((v) => v * 10), shape };
}

function check(f: (...xs: Tensor[]) => Tensor, inputs: GradInput[], opts?: { h?: number; tol?: number }): void {
  const err = gradcheck(backend, f, inputs, opts);
  assert.equal(err, null, err ?? '');
}

// The checker itself: an autograd gradient off by 5% must fail at any scale (the old bound,
// 2e-2 * max(1, max|grad|), let every gradient below 1 pass with an absolute 2e-2).
for (const scale of [1e-6, 1e-3, 1, 1e3]) {
  test(`gradcheck catches a 5% gradient error at scale ${scale}, and passes the exact one`, () => {
    const x = input([3, 4], 11);
    // Same value as scale * x^2, but the gradient is 1.05 times too large (the extra term is 0).
    const wrong = (t: Tensor) => F.add(F.mul(F.square(t), scale), F.mul(F.sub(F.square(t), F.square(t).detach()), 0.05 * scale));
    assert.match(gradcheck(backend, wrong, [x]) ?? '', /analytic .* numeric/);
    assert.equal(gradcheck(backend, (t) => F.mul(F.square(t), scale), [x]), null);
  });
}

/** Two shapes that broadcast: each dim of each operand is either the output's or 1; leading dims may be dropped. */
const broadcastPair = fc.tuple(dims(4, 1, 4), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 3 }), fc.nat())
  .map(([out, modes, drop, seed]) => {
    const a = out.map((d, i) => (modes[i] === 1 ? 1 : d));
    const b = out.map((d, i) => (modes[i] === 2 ? 1 : d)).slice(Math.min(drop, out.length - 1));
    return { a, b, seed };
  });

const unaryCases: [string, (x: Tensor) => Tensor, (s: number[], seed: number) => GradInput][] = [
  ['neg', F.neg, input], ['exp', F.exp, input], ['log', F.log, (s, k) => input(s, k, 0.3, 3)],
  ['sqrt', F.sqrt, (s, k) => input(s, k, 0.3, 3)], ['rsqrt', F.rsqrt, (s, k) => input(s, k, 0.3, 3)],
  ['abs', F.abs, awayFromZero], ['tanh', F.tanh, input], ['sigmoid', F.sigmoid, input], ['silu', F.silu, input],
  ['gelu_erf', (x) => F.gelu(x), input], ['gelu_tanh', (x) => F.gelu(x, 'tanh'), input], ['relu', F.relu, awayFromZero],
  ['square', F.square, input], ['sin', F.sin, input], ['cos', F.cos, input], ['reciprocal', F.reciprocal, (s, k) => awayFromZero(s, k, 0.5)],
];

for (const [name, f, gen] of unaryCases) {
  test(`gradcheck ${name}`, () => {
    fc.assert(fc.property(dims(5), fc.nat(), (s, seed) => check(f, [gen(s, seed)])), { numRuns: RUNS });
  });
}

const binaryCases: [string, (a: Tensor, b: Tensor) => Tensor, (s: number[], k: number) => GradInput, (s: number[], k: number) => GradInput][] = [
  ['add', F.add, input, input], ['sub', F.sub, input, input], ['mul', F.mul, input, input],
  ['div', F.div, input, (s, k) => awayFromZero(s, k, 0.5)], ['pow', F.pow, (s, k) => input(s, k, 0.5, 2), input],
  ['maximum', F.maximum, (s, k) => input(s, k, 0, 1), (s, k) => input(s, k, 2, 3)],
  ['minimum', F.minimum, (s, k) => input(s, k, 0, 1), (s, k) => input(s, k, 2, 3)],
];
for (const [name, f, ga, gb] of binaryCases) {
  test(`gradcheck ${name} with broadcasting`, () => {
    fc.assert(fc.property(broadcastPair, ({ a, b, seed }) => check(f, [ga(a, seed), gb(b, seed + 1)])), { numRuns: RUNS });
  });
}

test('gradcheck where with broadcast condition', () => {
  fc.assert(fc.property(broadcastPair, ({ a, b, seed }) => {
    const r = rng(seed);
    const cond = tensor(Int32Array.from({ length: size(a) }, () => (r() < 0.5 ? 1 : 0)), a, { backend });
    check((x, y) => F.where(cond, x, y), [input(a, seed), input(b, seed + 1)]);
  }), { numRuns: RUNS });
});

test('gradcheck layout ops: reshape, permute, transpose, slice, expand, repeat', () => {
  fc.assert(fc.property(dims(4, 2, 4), fc.nat(), (s, seed) => {
    const r = rng(seed);
    const perm = s.map((_, i) => i).sort(() => r() - 0.5);
    check((x) => F.permute(x, perm), [input(s, seed)]);
    check((x) => F.reshape(x, [-1]), [input(s, seed)]);
    check((x) => F.transpose(x, 0, -1), [input(s, seed)]);
    const d = Math.floor(r() * s.length), len = s[d]!;
    const start = Math.floor(r() * len), step = 1 + Math.floor(r() * 2);
    check((x) => F.slice(x, d, start - len, undefined, step), [input(s, seed)]);
    const ones = s.map((v, i) => (i === d ? 1 : v));
    check((x) => F.expand(x, [2, ...s]), [input(ones, seed)]);
    check((x) => F.repeat(x, [2, ...s.map(() => 1)].map((v, i) => (i === 1 ? 3 : v))), [input(s, seed)]);
  }), { numRuns: RUNS });
});

test('gradcheck concat, stack, split, chunk', () => {
  fc.assert(fc.property(dims(3, 1, 3), fc.integer({ min: 1, max: 3 }), fc.nat(), (s, extra, seed) => {
    const d = seed % s.length;
    const s2 = s.map((v, i) => (i === d ? extra : v));
    check((a, b) => F.concat([a, b], d), [input(s, seed), input(s2, seed + 1)]);
    check((a, b) => F.stack([a, b], d), [input(s, seed), input(s, seed + 1)]);
    check((a) => F.concat(F.split(a, 2, d).map((p, i) => F.mul(p, i + 1)), d), [input(s, seed)]);
    check((a) => F.chunk(a, 2, d)[0]!, [input(s, seed)]);
  }), { numRuns: RUNS });
});

test('gradcheck reductions: sum, mean over dims with keepdim; max/min along a dim', () => {
  fc.assert(fc.property(dims(4, 1, 4), fc.nat(), fc.boolean(), (s, seed, keep) => {
    const r = rng(seed);
    const axes = s.map((_, i) => i).filter(() => r() < 0.5);
    const dimsArg = axes.length ? axes : undefined;
    check((x) => F.sum(x, dimsArg, keep), [input(s, seed)]);
    check((x) => F.mean(x, dimsArg, keep), [input(s, seed)]);
    const d = seed % s.length;
    check((x) => F.max(x, d, keep), [distinct(s, seed)], { h: 1e-3 });
    check((x) => F.min(x, d, keep), [distinct(s, seed)], { h: 1e-3 });
    check((x) => F.max(x), [distinct(s, seed)], { h: 1e-3 });
  }), { numRuns: RUNS });
});

test('gradcheck matmul with batch broadcasting, and linear', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), broadcastPair, fc.boolean(), (m, k, n, { a, b, seed }, bias) => {
    const batchA = a.slice(-2), batchB = b.slice(-2); // right-aligned, so they broadcast
    check(F.matmul, [input([...batchA, m, k], seed), input([...batchB, k, n], seed + 1)]);
    check(F.matmul, [input([m, k], seed), input([k], seed + 1)]);
    check(F.matmul, [input([k], seed), input([...batchB, k, n], seed + 1)]);
    const inputs = [input([...batchA, m, k], seed), input([n, k], seed + 1), ...(bias ? [input([n], seed + 2)] : [])];
    check((x, w, bb) => F.linear(x, w, bb), inputs);
  }), { numRuns: RUNS });
});

test('gradcheck softmax, log_softmax along any dim', () => {
  fc.assert(fc.property(dims(5, 1, 3), fc.nat(), (s, seed) => {
    const d = seed % s.length;
    check((x) => F.softmax(x, d), [input(s, seed, -2, 2)]);
    check((x) => F.logSoftmax(x, d), [input(s, seed, -2, 2)]);
  }), { numRuns: RUNS });
});

test('gradcheck layer_norm, rms_norm, group_norm', () => {
  fc.assert(fc.property(dims(4, 1, 2), fc.integer({ min: 2, max: 6 }), fc.nat(), (lead, c, seed) => {
    const s = [...lead, c];
    // Normalisation is ill-conditioned when a row's values nearly coincide (variance ~ 0), where
    // finite differences with a float32 step say nothing: rows get values at least 1 apart.
    check((x, w, b) => F.layerNorm(x, [c], w, b, 1e-5), [spread(s, seed), input([c], seed + 1), input([c], seed + 2)]);
    check((x, w) => F.rmsNorm(x, w, 1e-6), [spread(s, seed), input([c], seed + 1)]);
    const groups = [1, 2][seed % 2]!, ch = groups * (1 + (seed % 3));
    check((x, w, b) => F.groupNorm(x, groups, w, b, 1e-5), [spread([2, ch, 2, 3], seed), input([ch], seed + 1), input([ch], seed + 2)]);
  }), { numRuns: RUNS });
});

test('gradcheck embedding, indexSelect, gather (repeated ids accumulate)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), fc.nat(), (num, dim, raw, seed) => {
    const ids = tensor(Int32Array.from(raw.map((v) => v % num)), [raw.length], { backend });
    check((w) => F.embedding(ids, w), [input([num, dim], seed)]);
    check((w) => F.indexSelect(w, 1, ids), [input([dim, num, 2], seed)]);
    const idx = tensor(Int32Array.from({ length: dim * 3 }, (_, i) => (raw[i % raw.length]! + i) % num), [dim, 3], { backend });
    check((x) => F.gather(x, 1, idx), [input([dim, num], seed)]);
  }), { numRuns: RUNS });
});

test('gradcheck cross_entropy with ignore_index, mse_loss', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 7 }), fc.nat(), (n, c, seed) => {
    const r = rng(seed);
    const t = Int32Array.from({ length: n }, (_, i) => (i > 0 && r() < 0.3 ? -100 : Math.floor(r() * c)));
    const targets = tensor(t, [n], { backend });
    check((x) => F.crossEntropy(x, targets), [input([n, c], seed, -2, 2)]);
    check((x) => F.crossEntropy(x, targets, { reduction: 'sum' }), [input([n, c], seed, -2, 2)]);
    check((a, b) => F.mseLoss(a, b), [input([n, c], seed), input([n, c], seed + 1)]);
  }), { numRuns: RUNS });
});

test('gradcheck attention: causal, masks, grouped-query heads, tq != tk', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 4 }),
    fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.nat(), (b, kvh, grp, tq, extraK, d, seed) => {
      const h = kvh * grp, tk = tq + extraK - 1;
      const q = input([b, h, tq, d], seed), k = input([b, kvh, tk, d], seed + 1), v = input([b, kvh, tk, d + 1], seed + 2);
      check((x, y, z) => F.scaledDotProductAttention(x, y, z, { causal: true }), [q, k, v]);
      const r = rng(seed);
      // Key 0 always visible so no row is fully masked.
      const mask = tensor(Int32Array.from({ length: b * tq * tk }, (_, i) => (i % tk === 0 || r() < 0.6 ? 1 : 0)), [b, 1, tq, tk], { backend });
      check((x, y, z) => F.scaledDotProductAttention(x, y, z, { mask }), [q, k, v]);
      const additive = tensor(randomData(tq * tk, r), [tq, tk], { backend });
      check((x, y, z) => F.scaledDotProductAttention(x, y, z, { mask: additive, scale: 0.3 }), [q, k, v]);
    }), { numRuns: RUNS });
});

test('gradcheck rotary embedding', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.nat(), (b, h, t, half, seed) => {
    const d = 2 * half;
    const pos = tensor(Int32Array.from({ length: b * t }, (_, i) => (i % t) + (seed % 5)), [b, t], { backend });
    const { cos, sin } = F.rotaryCosSin(pos, d, 10000);
    check((x) => F.applyRotary(x, cos, sin), [input([b, h, t, d], seed)]);
  }), { numRuns: RUNS });
});

test('gradcheck conv2d (stride, symmetric and asymmetric padding), upsample, avg_pool', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 3, max: 6 }),
    fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 4, maxLength: 4 }), fc.nat(),
    (n, c, o, hw, kk, stride, pad, seed) => {
      const k = Math.min(kk, hw);
      check((x, w, bias) => F.conv2d(x, w, bias, { stride, padding: pad as [number, number, number, number] }),
        [input([n, c, hw, hw + 1], seed), input([o, c, k, k], seed + 1), input([o], seed + 2)]);
      check(F.upsampleNearest2x, [input([n, c, 2, 3], seed)]);
      check((x) => F.avgPool2d(x, 2), [input([n, c, hw, hw + 1], seed)]);
    }), { numRuns: RUNS });
});

test('gradcheck dropout (fixed generator)', () => {
  fc.assert(fc.property(dims(5), fc.nat(), (s, seed) => {
    check((x) => F.dropout(x, 0.3, true, new F.Generator(seed)), [input(s, seed)]);
  }), { numRuns: RUNS });
});

test('gradcheck itself catches a wrong gradient', async () => {
  const { record, wrap } = await import('../src/ops/record.ts');
  // y = x^2 whose backward claims dy/dx = x (half the truth).
  const badSquare = (x: Tensor): Tensor => record(wrap(x.backend, x.backend.unary('square', x.storage), x.shape), 'bad', [x], (gy) => [F.mul(gy, x)]);
  assert.notEqual(gradcheck(backend, badSquare, [input([3], 1, 0.5, 1)]), null);
  assert.equal(gradcheck(backend, F.square, [input([3], 1, 0.5, 1)]), null);
});

test('gradcheck combineRows (the diffusion step primitive)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), dims(3, 1, 3), fc.integer({ min: 1, max: 3 }), fc.nat(), (n, rest, k, seed) => {
    const xs = Array.from({ length: k }, (_, i) => input([n, ...rest], seed + i));
    const cs = Array.from({ length: k }, (_, i) => input([n], seed + 10 + i));
    check((...ts) => F.combineRows(ts.slice(0, k), ts.slice(k)), [...xs, ...cs]);
  }), { numRuns: RUNS });
});
