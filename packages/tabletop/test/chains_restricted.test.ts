import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainAt, chainSplit, evaluate, expertPolicy, isFeasible, perTaskTable, randomPolicy, solveWithExpert, type TaskKind } from '../src/index.ts';

const SUBSET: TaskKind[] = ['lift', 'place_in_bowl', 'open_drawer', 'close_drawer', 'lamp_on', 'lamp_off'];

test('chains restricted to some task kinds use only those, stay feasible, and are deterministic', () => {
  for (let k = 0; k < 4; k++) {
    const a = chainAt(3, k, { env: 'D', tasks: SUBSET }), b = chainAt(3, k, { env: 'D', tasks: SUBSET });
    assert.deepEqual(a, b);
    assert.equal(a.tasks.length, 5);
    const s = structuredClone(a.state);
    for (const t of a.tasks) {
      assert.ok(SUBSET.includes(t.kind), t.kind);
      assert.ok(isFeasible(s, t) && solveWithExpert(s, t, 300), JSON.stringify(t));
    }
  }
});

test('a restriction whose kinds cannot follow one another fails naming them and the env', () => {
  assert.throws(() => chainAt(0, 0, { env: 'B', tasks: ['lamp_on'] }), /feasible chain of 5 of the tasks lamp_on in env B in 200 attempts/);
});

test('evaluation: per-task stats carry a 95% Wilson interval, and tasks restricts the chains', async () => {
  const r = await evaluate(expertPolicy(), { env: 'D', chains: 3, seed: 2, render: false, tasks: ['open_drawer', 'close_drawer', 'lamp_on', 'lamp_off'] });
  assert.equal(r.success[4], 1);
  const kinds = Object.keys(r.per_task);
  assert.ok(kinds.length > 0 && kinds.every((k) => ['open_drawer', 'close_drawer', 'lamp_on', 'lamp_off'].includes(k)), kinds.join());
  for (const st of Object.values(r.per_task)) {
    assert.equal(st.rate, 1);
    assert.equal(st.ci95[1], 1);
    assert.ok(st.ci95[0] > 0 && st.ci95[0] < 1);
  }
  assert.match(perTaskTable(r), /\| 95% CI \(%\) \|/);
  const rnd = await evaluate(randomPolicy(1), { env: 'D', chains: 2, seed: 0, render: false, maxStepsPerTask: 30 });
  for (const st of Object.values(rnd.per_task)) assert.ok(st.ci95[0] <= st.rate && st.rate <= st.ci95[1]);
});

test('bad task restrictions are rejected naming the problem', async () => {
  await assert.rejects(evaluate(randomPolicy(), { env: 'D', chains: 1, seed: 0, tasks: ['lift', 'fly' as TaskKind] }), /unknown task "fly": expected one of lift, /);
  await assert.rejects(evaluate(randomPolicy(), { env: 'D', chains: 1, seed: 0, tasks: [] }), /list of task kinds is empty/);
});

test('the long-horizon split names the bowl an object is in when its take_from_bowl task starts', () => {
  // Chain 8 of seed 0 (env D) asks to take out of a bowl a cube that an earlier task put there;
  // the split used to describe the start state, where the cube was on the table: "{bowl}".
  const split = chainSplit(0, 9, { env: 'D', distractors: 2, confusers: 0, objects: 'all' });
  const all = split.flatMap((c) => c.tasks);
  assert.ok(all.some((t) => t.spec.kind === 'take_from_bowl'));
  for (const t of all) assert.doesNotMatch(t.instruction, /[{}]/);
});
