import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng, deriveSeed } from '../src/index.ts';

test('same seed, same stream; different seeds differ', () => {
  fc.assert(fc.property(fc.nat(), (seed) => {
    const a = new Rng(seed), b = new Rng(seed), c = new Rng(seed + 1);
    const xa = Array.from({ length: 8 }, () => a.u32());
    const xb = Array.from({ length: 8 }, () => b.u32());
    const xc = Array.from({ length: 8 }, () => c.u32());
    assert.deepEqual(xa, xb);
    assert.notDeepEqual(xa, xc);
  }));
});

test('uniform, int and shuffle stay in range', () => {
  fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 1000 }), (seed, n) => {
    const r = new Rng(seed);
    for (let i = 0; i < 20; i++) {
      const u = r.next();
      assert.ok(u >= 0 && u < 1);
      const k = r.int(n);
      assert.ok(Number.isInteger(k) && k >= 0 && k < n);
    }
    const arr = Array.from({ length: 10 }, (_, i) => i);
    assert.deepEqual([...r.shuffle(arr.slice())].sort((a, b) => a - b), arr);
  }));
});

test('deriveSeed gives distinct seeds for distinct indices', () => {
  const seen = new Set(Array.from({ length: 1000 }, (_, i) => deriveSeed(7, i)));
  assert.equal(seen.size, 1000);
});
