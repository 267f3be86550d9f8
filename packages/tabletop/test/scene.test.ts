import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng, dims, isUnseenPair, sampleScene, fixtureFootprints, ENVS, ENV_NAMES, parseEnvList } from '../src/index.ts';

test('a scene is determined by its seed', () => {
  fc.assert(fc.property(fc.nat(), fc.constantFrom(...ENV_NAMES), (seed, env) => {
    assert.deepEqual(sampleScene(new Rng(seed), { env }), sampleScene(new Rng(seed), { env }));
  }), { numRuns: 30 });
  assert.notDeepEqual(sampleScene(new Rng(1), { env: 'A' }), sampleScene(new Rng(2), { env: 'A' }));
});

test('objects on the table do not overlap each other or the fixed items', () => {
  fc.assert(fc.property(fc.nat(), fc.constantFrom(...ENV_NAMES), fc.integer({ min: 0, max: 6 }), (seed, env, distractors) => {
    const s = sampleScene(new Rng(seed), { env, distractors, arrangeProb: 0 });
    assert.equal(s.objects.length, 4 + distractors);
    const keys = new Set(s.objects.map((o) => `${o.size}/${o.color}/${o.shape}`));
    assert.equal(keys.size, s.objects.length, 'no two identical objects');
    for (const a of s.objects) {
      for (const f of fixtureFootprints(ENVS[env])) {
        const inside = a.pos[0] > f.x0 && a.pos[0] < f.x1 && a.pos[1] > f.y0 && a.pos[1] < f.y1;
        assert.ok(!inside, `object ${a.id} inside a fixed item`);
      }
      for (const b of s.objects) {
        if (a.id < b.id) assert.ok(Math.hypot(a.pos[0] - b.pos[0], a.pos[1] - b.pos[1]) >= dims(a).r + dims(b).r, `${a.id} overlaps ${b.id}`);
      }
    }
  }), { numRuns: 40 });
});

test('the unseen split only shows held-out colour/shape pairs, the seen split never does', () => {
  for (let seed = 0; seed < 30; seed++) {
    for (const o of sampleScene(new Rng(seed), { env: 'D', objects: 'unseen', distractors: 3 }).objects) assert.ok(isUnseenPair(o.shape, o.color), `${o.color} ${o.shape}`);
    for (const o of sampleScene(new Rng(seed), { env: 'A', objects: 'seen', distractors: 4 }).objects) assert.ok(!isUnseenPair(o.shape, o.color), `${o.color} ${o.shape}`);
  }
});

test('confusers share a colour or a shape with another object', () => {
  for (let seed = 0; seed < 30; seed++) {
    const s = sampleScene(new Rng(seed), { env: 'B', distractors: 2, confusers: 2, objects: 'all' });
    for (const c of s.objects.slice(4)) {
      assert.ok(s.objects.some((o) => o.id !== c.id && (o.color === c.color || o.shape === c.shape)));
    }
  }
});

test('bad scene options are rejected with a message naming the problem', () => {
  assert.throws(() => sampleScene(new Rng(0), { env: 'D', distractors: 9 }), /distractors must be an integer in 0\.\.6, got 9/);
  assert.throws(() => sampleScene(new Rng(0), { env: 'D', distractors: 1, confusers: 2 }), /confusers/);
  assert.throws(() => sampleScene(new Rng(0), { env: 'E' as 'D' }), /unknown environment "E"/);
  assert.throws(() => parseEnvList('A,,X'), /unknown environment "X"/);
  assert.throws(() => parseEnvList(''), /empty environment list/);
});
