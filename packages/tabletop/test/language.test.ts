import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, TASK_KINDS, feasibleTasks, instructionFor, sampleScene, templates } from '../src/index.ts';

test('every task has training templates and held-out paraphrases, and the two sets are disjoint', () => {
  const train = templates('train'), held = templates('heldout');
  for (const k of TASK_KINDS) {
    assert.ok(train[k].length >= 3, k);
    assert.ok(held[k].length >= 2, k);
    for (const t of held[k]) assert.ok(!train[k].includes(t), `${k}: "${t}" is in both sets`);
  }
});

test('instructions fill every slot and name the object uniquely', () => {
  for (let seed = 0; seed < 40; seed++) {
    const s = sampleScene(new Rng(seed), { env: 'D', distractors: 4, confusers: 3, objects: 'all' });
    const rng = new Rng(seed);
    for (const spec of feasibleTasks(s)) {
      for (const set of ['train', 'heldout'] as const) {
        const text = instructionFor(s, spec, rng, set);
        assert.ok(!/[{}]/.test(text), text);
        if (spec.object !== undefined) {
          const o = s.objects[spec.object]!;
          assert.ok(text.includes(o.color), `"${text}" names the colour ${o.color}`);
          const twin = s.objects.some((p) => p.id !== o.id && p.shape === o.shape && p.color === o.color);
          if (twin) assert.ok(text.includes(o.size), `"${text}" names the size`);
        }
      }
    }
  }
});

test('instructions are deterministic by seed', () => {
  const s = sampleScene(new Rng(1), { env: 'A' });
  const spec = feasibleTasks(s)[0]!;
  assert.equal(instructionFor(s, spec, new Rng(5)), instructionFor(s, spec, new Rng(5)));
});
