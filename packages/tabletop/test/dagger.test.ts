import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DatasetReader, collectDagger, expertAction, generateDataset, type Action, type GenerateOptions, type Policy,
} from '../src/index.ts';
import { startEpisode } from '../src/dataset.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'tabletop-dagger-'));
const scene: Omit<GenerateOptions, 'out' | 'episodes'> = {
  envs: ['A'], seed: 11, noise: 0, tasks: ['lamp_on', 'open_drawer'], randomStart: true,
  staticWidth: 24, staticHeight: 24, gripperWidth: 16, gripperHeight: 16,
};

/** A policy that never moves, with a count of its calls. */
function stillPolicy(): Policy & { calls: number } {
  const p = Object.assign((): Action => { p.calls++; return new Float32Array(7); }, { calls: 0 });
  return p;
}

test('dagger: every frame is labelled with the expert action of the state the policy reached', async () => {
  const out = tmp();
  // What the policy saw, and the expert's action there (the observation's state is the live one).
  const seen: { proprio: Float32Array; label: Action }[] = [];
  const policy: Policy = (obs) => { seen.push({ proprio: obs.proprio, label: expertAction(obs.privileged.state, obs.privileged.task!) }); return Float32Array.from([0.5, -0.5, 0.3, 0, 0, 0.4, 1]); }; // drifts away
  const index = await collectDagger({ ...scene, out, episodes: 2, policy, policyName: 'drift', stallSteps: 0, rolloutSteps: 15 });
  const shard = DatasetReader.open(out).readShard(0);
  assert.equal(shard.frames, 30);
  assert.equal(seen.length, 30); // no stall rule, no beta: the policy acted on every step
  for (let f = 0; f < shard.frames; f++) {
    assert.deepEqual(Array.from(shard.actions.subarray(f * 7, f * 7 + 7)), Array.from(seen[f]!.label), `frame ${f}`);
    assert.deepEqual(Array.from(shard.proprio.subarray(f * 8, f * 8 + 8)), Array.from(seen[f]!.proprio));
  }
  assert.ok(shard.episodes.every((e) => e.actor === 'policy' && e.takeover === null));
  const round = index.dagger!.at(-1)!;
  assert.deepEqual({ ...round }, {
    policy: 'drift', seed: 11, episodes: 2, frames: 30, beta: 0, stall_steps: 0, policy_steps: 30, expert_steps: 0,
    takeovers: 0, policy_successes: 0, aggregated_from: null,
  });
  // The first frame is where generateDataset's episode with the same seed and index starts.
  const start = startEpisode({ ...scene, out, episodes: 2 }, 1).env.observe();
  assert.deepEqual(Array.from(shard.proprio.subarray(15 * 8, 15 * 8 + 8)), Array.from(start.proprio));
  assert.equal(shard.episodes[1]!.instruction, startEpisode({ ...scene, out, episodes: 2 }, 1).instruction);
});

test('dagger: a stalled policy hands over to the expert, who finishes the task; the frames of failed rollouts are still usable', async () => {
  const out = tmp();
  const policy = stillPolicy();
  const index = await collectDagger({ ...scene, out, episodes: 2, policy, policyName: 'still', stallSteps: 5 });
  const shard = DatasetReader.open(out).readShard(0);
  for (const ep of shard.episodes) {
    assert.equal(ep.takeover, 4); // five states, the start's and four after still steps, within one step's reach
    assert.ok(ep.success, `${ep.task.kind}: the expert finishes from where the policy stopped`);
  }
  assert.equal(policy.calls, 8);
  assert.equal(index.dagger![0]!.takeovers, 2);
  assert.equal(index.dagger![0]!.policy_successes, 0);
  // Rollouts that failed count too: the labels are the expert's whatever happened.
  const failedOut = tmp();
  const failed = await collectDagger({ ...scene, out: failedOut, episodes: 1, policy: stillPolicy(), policyName: 'still', stallSteps: 0, rolloutSteps: 6 });
  assert.equal(failed.frames, 6);
  let frames = 0;
  for await (const b of DatasetReader.open(failedOut).batches({ batchSize: 1 })) frames += b.size;
  assert.equal(frames, 6);
  // beta 1: the expert acts on every step and the policy is never asked.
  const policy1 = stillPolicy();
  const all = await collectDagger({ ...scene, out: tmp(), episodes: 1, policy: policy1, policyName: 'still', beta: 1 });
  assert.equal(policy1.calls, 0);
  assert.equal(all.dagger![0]!.expert_steps, all.frames);
  assert.equal(all.dagger![0]!.policy_successes, 1);
});

test('dagger: aggregation keeps the original shards first and reads as one dataset', async () => {
  const base = tmp(), out = join(tmp(), 'agg');
  const demo = generateDataset({ ...scene, out: base, episodes: 3, seed: 5 });
  const index = await collectDagger({ ...scene, out, episodes: 2, seed: 6, policy: stillPolicy(), policyName: 'still', stallSteps: 5, aggregate: base });
  assert.equal(index.shards.length, demo.shards.length + 1);
  for (const s of demo.shards) assert.ok(readFileSync(join(out, s.file)).equals(readFileSync(join(base, s.file))), s.file);
  assert.equal(index.episodes, demo.episodes + 2);
  assert.equal(index.frames, demo.frames + index.dagger![0]!.frames);
  assert.equal(index.demonstrations, demo.demonstrations);
  assert.equal(index.dagger![0]!.aggregated_from, base);
  const r = DatasetReader.open(out);
  const last = r.readShard(index.shards.length - 1);
  assert.deepEqual(last.episodes.map((e) => e.index), [demo.episodes, demo.episodes + 1]);
  // The original is untouched.
  assert.equal(JSON.parse(readFileSync(join(base, 'dataset.json'), 'utf8')).dagger, undefined);
});

test('dagger: bad options are refused by name', async () => {
  const base = tmp();
  generateDataset({ ...scene, out: base, episodes: 1 });
  const o = { ...scene, episodes: 1, policy: stillPolicy(), policyName: 'still' };
  await assert.rejects(collectDagger({ ...o, out: tmp(), beta: 1.5 }), /beta must be in \[0, 1\], got 1.5/);
  await assert.rejects(collectDagger({ ...o, out: tmp(), stallSteps: -1 }), /stallSteps must be a non-negative integer/);
  await assert.rejects(collectDagger({ ...o, out: tmp(), relabel: 1 }), /relabel must be 0/);
  await assert.rejects(collectDagger({ ...o, out: base }), /already holds a dataset/);
  await assert.rejects(collectDagger({ ...o, out: base, aggregate: base }), /is the output folder itself/);
  await assert.rejects(collectDagger({ ...o, out: tmp(), aggregate: base, staticWidth: 32, staticHeight: 32 }), /cameras static 24x24.*would be static 32x32/);
});
