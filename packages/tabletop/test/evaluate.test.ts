import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RolloutRecorder, chainAt, evaluate, expertPolicy, isFeasible, perTaskTable, randomPolicy, resultTable, solveWithExpert,
  decodePng, type Policy, type ResetInfo,
} from '../src/index.ts';

test('the scripted expert completes >= 95% of 5-task chains on env D', async () => {
  const r = await evaluate(expertPolicy(), { env: 'D', chains: 30, seed: 0, render: false });
  assert.equal(r.success.length, 5);
  assert.ok(r.success[4]! >= 0.95, `5/5 success ${r.success[4]}`);
  assert.ok(r.avg_len >= 4.75);
  for (let k = 1; k < 5; k++) assert.ok(r.success[k]! <= r.success[k - 1]!);
  assert.ok(Object.keys(r.per_task).length >= 10);
});

test('the expert copes with action noise', async () => {
  const r = await evaluate(expertPolicy({ noise: 0.2, seed: 3 }), { env: 'D', chains: 10, seed: 1, render: false });
  assert.ok(r.success[0]! >= 0.9, `1/5 success ${r.success[0]}`);
});

test('a random policy completes about nothing', async () => {
  const r = await evaluate(randomPolicy(0), { env: 'D', chains: 8, seed: 0, render: false, maxStepsPerTask: 200 });
  assert.ok(r.success[0]! <= 0.125, `1/5 success ${r.success[0]}`);
  assert.equal(r.success[4], 0);
});

test('chains are deterministic by seed and each task is feasible after the ones before', () => {
  for (let k = 0; k < 5; k++) {
    const a = chainAt(11, k, { env: 'D' }), b = chainAt(11, k, { env: 'D' });
    assert.deepEqual(a, b);
    assert.equal(a.tasks.length, 5);
    const s = structuredClone(a.state);
    for (const t of a.tasks) {
      assert.ok(isFeasible(s, t), JSON.stringify(t));
      assert.ok(solveWithExpert(s, t, 300));
    }
  }
  assert.notDeepEqual(chainAt(11, 0, { env: 'D' }), chainAt(12, 0, { env: 'D' }));
});

test('a rendered evaluation calls reset before every task and gives pixels, instruction and gaze', async () => {
  const resets: ResetInfo[] = [];
  const expert = expertPolicy();
  let sawPixels = false, sawGaze = false;
  const instructions = new Set<string>();
  const policy: Policy = Object.assign(async (obs: Parameters<Policy>[0], instruction: string) => {
    sawPixels ||= obs.static.rgb.length === 128 * 128 * 3 && obs.gripper.rgb.length === 64 * 64 * 3;
    sawGaze ||= obs.gaze.static !== null;
    instructions.add(instruction);
    assert.equal(obs.proprio.length, 8);
    return expert(obs, instruction);
  }, { reset: (info: ResetInfo) => { resets.push(info); } });
  const rec = new RolloutRecorder(1, 4);
  const r = await evaluate(policy, { env: 'D', chains: 2, seed: 5, onStep: (s) => { if (s.chain === 0) rec.add(s.observation, s.success); } });
  assert.equal(r.success[4], 1);
  assert.deepEqual(resets.map((x) => x.task), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  assert.ok(sawPixels && sawGaze);
  assert.equal(instructions.size, 10);
  const strip = decodePng((await import('../src/index.ts')).encodePng(rec.strip(4)));
  assert.ok(strip.height > 128);
  assert.ok(rec.apng().subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])));
});

test('results print as a Table-3-shaped Markdown table', async () => {
  const r = await evaluate(expertPolicy(), { env: 'D', chains: 2, seed: 0, render: false });
  const md = resultTable([{ method: 'expert', result: r }]);
  const lines = md.split('\n');
  assert.match(lines[0]!, /^\| Method \| Tasks completed in a row: 1 \| 2 \| 3 \| 4 \| 5 \| Avg\. Len\. \|$/);
  assert.match(lines[2]!, /^\| expert \| 100\.0 \| 100\.0 \| 100\.0 \| 100\.0 \| 100\.0 \| 5\.00 \|$/);
  assert.match(perTaskTable(r), /\| Task \| Success \| Attempts \| Rate \(%\) \|/);
});

test('bad evaluation options are rejected with a message naming the problem', async () => {
  await assert.rejects(evaluate(randomPolicy(), { env: 'D', chains: 0, seed: 0 }), /chains must be a positive integer, got 0/);
  await assert.rejects(evaluate(randomPolicy(), { env: 'Z' as 'D', chains: 1, seed: 0 }), /unknown environment "Z"/);
  await assert.rejects(evaluate(randomPolicy(), { env: 'D', chains: 1, seed: -1 }), /seed must be a non-negative integer/);
  await assert.rejects(evaluate(() => [1, 2], { env: 'D', chains: 1, seed: 0, render: false }), /7 components/);
});

test('the exported long-horizon split carries the instructions evaluation gives', async () => {
  const { chainSplit } = await import('../src/index.ts');
  const split = chainSplit(4, 3, { env: 'D', distractors: 2, confusers: 0, objects: 'all' });
  const seen: string[][] = [[], [], []];
  await evaluate(expertPolicy(), { env: 'D', chains: 3, seed: 4, render: false, onStep: (s) => {
    const list = seen[s.chain]!;
    if (list[list.length - 1] !== s.instruction) list.push(s.instruction);
  } });
  assert.deepEqual(seen, split.map((c) => c.tasks.map((t) => t.instruction)));
  assert.deepEqual(JSON.parse(JSON.stringify(split)), split);
});
