import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { wilson } from '../src/wilson.ts';

const close = (a: number, b: number, tol = 5e-5): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('known values (95%, no continuity correction)', () => {
  const [lo0, hi0] = wilson(0, 10);
  assert.equal(lo0, 0);
  close(hi0, 0.27754);
  const [lo5, hi5] = wilson(5, 10);
  close(lo5, 0.23659);
  close(hi5, 0.76341);
  const [lo10, hi10] = wilson(10, 10);
  close(lo10, 0.72246);
  assert.equal(hi10, 1);
  const [lo, hi] = wilson(81, 263);
  close(lo, 0.25529);
  close(hi, 0.36621);
  assert.deepEqual(wilson(0, 0), [0, 1]);
});

const trials = fc.integer({ min: 1, max: 5000 }).chain((n) => fc.tuple(fc.integer({ min: 0, max: n }), fc.constant(n)));

test('the interval holds the observed rate and stays inside [0, 1]', () => {
  fc.assert(fc.property(trials, fc.double({ min: 0.1, max: 4, noNaN: true }), ([s, n], z) => {
    const [lo, hi] = wilson(s, n, z);
    const p = s / n;
    return lo >= 0 && hi <= 1 && lo <= p && p <= hi && lo < hi;
  }));
});

test('more trials at the same rate give a narrower interval; a larger z a wider one', () => {
  fc.assert(fc.property(trials, fc.integer({ min: 2, max: 20 }), ([s, n], k) => {
    const [lo, hi] = wilson(s, n);
    const [lo2, hi2] = wilson(k * s, k * n);
    const [lo3, hi3] = wilson(s, n, 2.58);
    return hi2 - lo2 < hi - lo && hi3 - lo3 > hi - lo;
  }));
});

test('bad counts are rejected naming the problem', () => {
  assert.throws(() => wilson(3, 2), /successes must be an integer in 0\.\.n \(2\), got 3/);
  assert.throws(() => wilson(1, -1), /n must be a non-negative integer, got -1/);
  assert.throws(() => wilson(0.5, 2), /successes must be an integer/);
  assert.throws(() => wilson(1, 2, 0), /z must be a positive number/);
});
