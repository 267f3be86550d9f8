import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TabletopEnv, expertPolicy, randomPolicy, type Observation, type Policy, type ResetInfo } from '../src/index.ts';
import { withImageMode, type ImageMode } from '../src/image_mode.ts';
import { evaluateTasks } from '../src/single_task.ts';

const SIZES = { staticWidth: 40, staticHeight: 32, gripperWidth: 16, gripperHeight: 24 };

/** A policy that keeps what it was shown, and its resets. */
function spy(): { policy: Policy; seen: { obs: Observation; instruction: string }[]; resets: ResetInfo[] } {
  const seen: { obs: Observation; instruction: string }[] = [], resets: ResetInfo[] = [];
  const policy: Policy = Object.assign((obs: Observation, instruction: string) => {
    seen.push({ obs, instruction });
    return new Float32Array(7);
  }, { reset: (i: ResetInfo) => { resets.push(i); } });
  return { policy, seen, resets };
}

/** `steps` observations of a random walk in scene `seed` (camera images differ from step to step). */
function episode(seed: number, steps: number): Observation[] {
  const env = new TabletopEnv({ env: 'D', ...SIZES });
  const out = [env.reset(seed)];
  const walk = randomPolicy(seed);
  while (out.length < steps) out.push(env.step(walk(out.at(-1)!, '') as Float32Array).observation);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

test('black: both cameras are zeros of the same size; proprio, gaze, instruction and reset pass through', async () => {
  const s = spy();
  const p = withImageMode(s.policy, 'black');
  await p.reset!({ chain: 3, task: 1 });
  const obs = episode(1, 2);
  for (const o of obs) await p(o, 'lift the red block');
  assert.deepEqual(s.resets, [{ chain: 3, task: 1 }]);
  s.seen.forEach(({ obs: got, instruction }, i) => {
    const orig = obs[i]!;
    assert.equal(instruction, 'lift the red block');
    for (const view of ['static', 'gripper'] as const) {
      assert.deepEqual([got[view].width, got[view].height, got[view].rgb.length], [orig[view].width, orig[view].height, orig[view].rgb.length]);
      assert.ok(got[view].rgb.every((x) => x === 0));
      assert.ok(orig[view].rgb.some((x) => x !== 0), 'the original is not black');
    }
    assert.equal(got.proprio, orig.proprio);
    assert.equal(got.gaze, orig.gaze);
    assert.equal(got.privileged, orig.privileged);
  });
});

test('shuffled: an episode sees the previous episode\'s images in order, cycling; the first an unrelated scene', async () => {
  const s = spy();
  const p = withImageMode(s.policy, 'shuffled', 9);
  const first = episode(1, 3), second = episode(2, 5), third = episode(3, 2);
  await p.reset!({ chain: 0, task: 0 });
  for (const o of first) await p(o, 'a');
  await p.reset!({ chain: 0, task: 1 });
  for (const o of second) await p(o, 'b');
  await p.reset!({ chain: 1, task: 0 });
  for (const o of third) await p(o, 'c');
  assert.equal(s.resets.length, 3);
  const shown = s.seen.map((x) => x.obs);
  // The first episode: real renders at the right sizes, of another scene.
  for (let i = 0; i < 3; i++) {
    for (const view of ['static', 'gripper'] as const) {
      assert.deepEqual([shown[i]![view].width, shown[i]![view].height], [first[i]![view].width, first[i]![view].height]);
      assert.ok(!same(shown[i]![view].rgb, first[i]![view].rgb), `first episode, step ${i}, ${view}: its own image`);
      assert.ok(shown[i]![view].rgb.some((x) => x !== 0));
    }
  }
  // The second: the first's frames 0, 1, 2, 0, 1; the third: the second's 0, 1.
  const expect = [...[0, 1, 2, 0, 1].map((k) => first[k]!), ...[0, 1].map((k) => second[k]!)];
  expect.forEach((src, j) => {
    const got = shown[3 + j]!, orig = [...second, ...third][j]!;
    assert.ok(same(got.static.rgb, src.static.rgb) && same(got.gripper.rgb, src.gripper.rgb), `step ${j} after the first episode`);
    assert.equal(got.proprio, orig.proprio);
  });
  // Deterministic in the seed: the unrelated scene is the same again.
  const s2 = spy();
  await withImageMode(s2.policy, 'shuffled', 9)(first[0]!, 'a');
  assert.ok(same(s2.seen[0]!.obs.static.rgb, shown[0]!.static.rgb));
});

test('image modes leave a policy that reads the state alone unaffected; unknown modes are rejected', async () => {
  for (const mode of ['normal', 'black', 'shuffled'] as const) {
    const r = await evaluateTasks(withImageMode(expertPolicy(), mode), { env: 'D', tasks: ['lift', 'open_drawer'], perTask: 1, seed: 0, ...SIZES });
    assert.equal(r.overall.rate, 1, mode);
  }
  assert.equal(withImageMode(expertPolicy(), 'normal').name, expertPolicy().name);
  assert.throws(() => withImageMode(expertPolicy(), 'blurred' as ImageMode), /unknown image mode "blurred": expected normal, black, shuffled/);
});
