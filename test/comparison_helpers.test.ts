// The comparison helpers every golden and parity test relies on must fail on a NaN or an
// infinity anywhere, the middle included (a "worst so far" loop once let the element after a
// NaN overwrite it, and a bound scaled by an infinite max|ref| let everything pass).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { elementError, isClose, maxAbsFinite } from './helpers/close.ts';
import { compareArrays } from './helpers/golden.ts';
import { Checker } from './helpers/model_golden.ts';
import { close as parityClose, cpu } from '../packages/core/test/parity_suite.ts';

const REF = [1, 2, 3, 4, 5];
/** REF with element i replaced by v, on the got side or on the reference side. */
const withAt = (i: number, v: number): number[] => REF.map((x, k) => (k === i ? v : x));
const BAD = [NaN, Infinity, -Infinity];
const MIDDLE = [1, 2, 3];

test('isClose / elementError: NaN never matches, infinities match only themselves', () => {
  assert.equal(isClose(NaN, NaN, 1, 1), false);
  assert.equal(isClose(NaN, 1, 1e9, 1e9), false);
  assert.equal(isClose(1, NaN, 1e9, 1e9), false);
  assert.equal(isClose(Infinity, 1, 1e9, 1e9), false);
  assert.equal(isClose(1, Infinity, 1e9, 1e9), false, 'atol + rtol*inf must not pass a finite value');
  assert.equal(isClose(-Infinity, Infinity, 1e9, 1e9), false);
  assert.equal(isClose(Infinity, Infinity, 0, 0), true);
  assert.equal(elementError(NaN, 0), Infinity);
  assert.equal(maxAbsFinite([1, Infinity, -3, NaN]), 3);
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.double({ min: 0, max: 1e6, noNaN: true }), (x, tol) =>
    isClose(x, x, 0, 0) && !isClose(NaN, x, tol, tol) && !isClose(x, NaN, tol, tol)));
});

for (const i of MIDDLE) {
  for (const v of BAD) {
    test(`compareArrays fails on ${v} at [${i}] (got side and reference side)`, () => {
      assert.match(compareArrays(withAt(i, v), REF, { rel: 1e9, abs: 1e9 }, 't') ?? '', new RegExp(`at \\[${i}\\]`));
      assert.notEqual(compareArrays(REF, withAt(i, v), { rel: 1e9, abs: 1e9 }, 't'), null);
    });

    test(`Checker.compare fails on ${v} at [${i}] (per-tensor and elementwise bounds)`, () => {
      for (const check of [{ rel: 1e9, abs: 1e9 }, { absElem: 1e9, relElem: 1e9 }]) {
        const got = new Checker('got side');
        got.compare(withAt(i, v), REF, 'output.y', check);
        assert.equal(got.failures.length, 1, JSON.stringify(check));
        assert.match(got.failures[0]!, new RegExp(`at \\[${i}\\]`));
        assert.equal(got.worst.ratio, Infinity);
        const ref = new Checker('reference side');
        ref.compare(REF, withAt(i, v), 'output.y', check);
        assert.equal(ref.failures.length, 1, JSON.stringify(check));
      }
    });

    test(`parity close (webgpu/wasm parity suite) fails on ${v} at [${i}]`, async () => {
      const gotSide = parityClose(cpu, 't', cpu.fromArray(Float32Array.from(REF)), cpu.fromArray(Float32Array.from(withAt(i, v))), 1e9, 1e9);
      await assert.rejects(gotSide, new RegExp(`element ${i} `));
      const refSide = parityClose(cpu, 't', cpu.fromArray(Float32Array.from(withAt(i, v))), cpu.fromArray(Float32Array.from(REF)), 1e9, 1e9);
      await assert.rejects(refSide, new RegExp(`element ${i} `));
    });
  }
}

test('the helpers still pass what they should: exact, within tolerance, equal infinities', async () => {
  assert.equal(compareArrays([1, 2.001, 3], [1, 2, 3], { rel: 1e-3 }, 't'), null);
  assert.equal(compareArrays([1, Infinity, 3], [1, Infinity, 3], { rel: 0 }, 't'), null);
  const ck = new Checker('ok');
  ck.compare([1, 2.001, -Infinity], [1, 2, -Infinity], 'output.y', { rel: 1e-3 });
  ck.compare([0, 0], [0, 0], 'grad.x', { rel: 0 });
  assert.deepEqual(ck.failures, []);
  await parityClose(cpu, 't', cpu.fromArray(Float32Array.of(1, NaN, 3)), cpu.fromArray(Float32Array.of(1, NaN, 3.0001)), 1e-3, 0);
});
