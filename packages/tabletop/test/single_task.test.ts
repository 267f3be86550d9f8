import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expertPolicy, isFeasible, randomPolicy, solveWithExpert, TASK_KINDS, type Policy, type ResetInfo } from '../src/index.ts';
import { HOME } from '../src/world.ts';
import { evaluateTasks, singleTaskEpisode } from '../src/single_task.ts';

test('the noise-free expert solves every task kind in env A (2 attempts each), with reset before each', async () => {
  const resets: ResetInfo[] = [];
  const expert = expertPolicy();
  const policy: Policy = Object.assign((obs: Parameters<Policy>[0], instr: string) => expert(obs, instr), { reset: (i: ResetInfo) => { resets.push(i); } });
  let episodes = 0;
  const r = await evaluateTasks(policy, { env: 'A', tasks: TASK_KINDS, perTask: 2, seed: 0, render: false, onEpisode: (d, t) => { episodes = d; assert.equal(t, 34); } });
  assert.equal(episodes, 34);
  assert.deepEqual(Object.keys(r.per_task), [...TASK_KINDS]);
  for (const [kind, st] of Object.entries(r.per_task)) assert.deepEqual([kind, st.successes, st.attempts], [kind, 2, 2]);
  assert.equal(r.overall.rate, 1);
  assert.equal(r.overall.attempts, 34);
  assert.ok(r.overall.ci95[0] > 0.89 && r.overall.ci95[1] === 1);
  assert.deepEqual(resets, [...TASK_KINDS.map(() => ({ chain: 0, task: 0 })), ...TASK_KINDS.map(() => ({ chain: 1, task: 0 }))]);
  assert.deepEqual([r.env, r.seed, r.paraphrases, r.objects, r.perTask], ['A', 0, 'heldout', 'all', 2]);
});

test('a random policy scores low', async () => {
  const r = await evaluateTasks(randomPolicy(4), { env: 'D', tasks: ['lift', 'stack', 'open_drawer', 'lamp_on', 'push_left', 'rotate_right'], perTask: 2, seed: 1, render: false, maxStepsPerTask: 150 });
  assert.ok(r.overall.rate <= 0.25, `random policy rate ${r.overall.rate}`);
  assert.ok(r.overall.ci95[0] <= r.overall.rate && r.overall.rate <= r.overall.ci95[1]);
});

test('the same seed gives every policy the same episodes: start states and instructions', async () => {
  const firsts = async (inner: Policy, seed: number): Promise<string[]> => {
    const seen: string[] = [];
    const policy: Policy = (obs, instruction) => {
      if (obs.step === 0) seen.push(JSON.stringify({ instruction, state: obs.privileged.state, proprio: [...obs.proprio] }));
      return inner(obs, instruction);
    };
    await evaluateTasks(policy, { env: 'D', tasks: ['close_drawer', 'take_from_bowl', 'lamp_off', 'unstack'], perTask: 2, seed, render: false, maxStepsPerTask: 20 });
    return seen;
  };
  const a = await firsts(expertPolicy(), 7), b = await firsts(randomPolicy(1), 7), c = await firsts(randomPolicy(1), 8);
  assert.equal(a.length, 8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(new Set(a).size, 8);
});

test('a start state makes its task feasible, solvable by the expert, and depends only on (seed, kind, k)', () => {
  const scene = { env: 'C' as const, objects: 'unseen' as const, distractors: 3 };
  for (const kind of ['take_from_drawer', 'close_drawer', 'stack'] as const) {
    for (let k = 0; k < 3; k++) {
      const ep = singleTaskEpisode(5, kind, k, scene);
      assert.equal(ep.spec.kind, kind);
      assert.ok(isFeasible(ep.state, ep.spec));
      assert.ok(solveWithExpert(structuredClone(ep.state), ep.spec, 300));
      assert.doesNotMatch(ep.instruction, /[{}]/);
      assert.deepEqual(singleTaskEpisode(5, kind, k, scene), ep);
      // The paraphrase set changes the words only.
      assert.deepEqual(singleTaskEpisode(5, kind, k, scene, 'train').state, ep.state);
    }
  }
});

test('bad options are rejected naming the problem', async () => {
  const o = { env: 'D' as const, tasks: ['lift' as const], perTask: 1, seed: 0, render: false };
  await assert.rejects(evaluateTasks(randomPolicy(), { ...o, perTask: 0 }), /perTask must be a positive integer, got 0/);
  await assert.rejects(evaluateTasks(randomPolicy(), { ...o, tasks: [] }), /list of task kinds is empty/);
  await assert.rejects(evaluateTasks(randomPolicy(), { ...o, tasks: ['juggle' as 'lift'] }), /unknown task "juggle"/);
  await assert.rejects(evaluateTasks(randomPolicy(), { ...o, env: 'E' as 'D' }), /unknown environment "E"/);
});

test('episodes that began with expert warm-up tasks start from home, not holding the knob or handle the last one left at its success boundary', () => {
  const scene = { env: 'D' as const, objects: 'seen' as const, distractors: 2 };
  let warmed = 0;
  for (const kind of ['open_drawer', 'close_drawer', 'lamp_on', 'lamp_off'] as const) {
    for (let k = 0; k < 8; k++) {
      const { state } = singleTaskEpisode(503, kind, k, scene, 'train');
      if (state.step > 0) warmed++;
      const g = state.gripper;
      assert.equal(g.holding, null, `${kind} ${k}: holding ${JSON.stringify(g.holding)}`);
      assert.equal(g.opening, 1);
      assert.ok(Math.hypot(g.pos[0] - HOME[0], g.pos[1] - HOME[1], g.pos[2] - HOME[2]) < 0.07, `${kind} ${k}: gripper at ${g.pos.join(', ')} after ${state.step} expert steps`);
    }
  }
  assert.ok(warmed >= 4, `only ${warmed} of 32 episodes needed warm-up tasks: the test would not see the case`);
});
