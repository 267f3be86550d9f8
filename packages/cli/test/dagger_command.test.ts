// `reconvla dagger` end to end on a small model folder: the rollouts take the dataset's scene
// settings, follow its shards in the new folder, and the flags are checked before the model loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createBackend, Generator } from '@reconvla/core';
import { initFromScratch, parseReconVLAConfig, ReconVLA, writeModelFolder } from '@reconvla/reconvla';
import { DatasetReader, generateDataset } from '@reconvla/tabletop';
import { testModelJson } from '../../reconvla/test/synthetic.ts';
import { daggerOptions } from '../src/dagger_command.ts';
import { main } from '../src/main.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'dagger-cli-'));
const data = path.join(dir, 'data');
generateDataset({ out: data, envs: ['B'], episodes: 2, seed: 4, noise: 0.2, tasks: ['lamp_on'], randomStart: true, distractors: 1, staticWidth: 32, staticHeight: 32, gripperWidth: 16, gripperHeight: 16 });

const flags = { data, out: path.join(dir, 'x'), episodes: 1, beta: 0, stallSteps: 20, maxSteps: 4, aggregate: true, decoding: 'argmax' as const, backend: 'cpu' as const };

test('dagger flags: the dataset\'s scene settings, another seed', () => {
  const o = daggerOptions(flags);
  assert.deepEqual([o.envs, o.tasks, o.randomStart, o.noise, o.distractors, o.seed, o.staticWidth, o.gripperWidth, o.rolloutSteps, o.aggregate],
    [['B'], ['lamp_on'], true, 0.2, 1, 5, 32, 16, 4, data]);
  assert.equal(daggerOptions({ ...flags, aggregate: false }).aggregate, undefined);
  assert.throws(() => daggerOptions({ ...flags, seed: 4 }), /--seed 4: .*data already holds episodes started from it \(seeds 4\)/);
  assert.throws(() => daggerOptions({ ...flags, data: path.join(dir, 'none') }), /no dataset at .*none: dataset.json is missing/);
});

test('reconvla dagger: a model acts, the expert labels, the dataset follows the original', async () => {
  const backend = await createBackend('cpu');
  const gen = new Generator(3);
  const model = new ReconVLA(parseReconVLAConfig(testModelJson()), { backend, generator: gen });
  initFromScratch(model, gen);
  const folder = (await writeModelFolder(model, path.join(dir, 'model'))).dir;
  const out = path.join(dir, 'round1');
  assert.equal(await main(['node', 'reconvla', 'dagger', '--model', folder, '--data', data, '--out', out, '--episodes', '2', '--max-steps', '4', '--backend', 'cpu']), 0);
  const r = DatasetReader.open(out);
  const base = DatasetReader.open(data).index;
  assert.equal(r.index.episodes, base.episodes + 2);
  const round = r.index.dagger![0]!;
  assert.equal(round.policy, path.resolve(folder));
  assert.equal(round.frames, r.index.frames - base.frames);
  assert.equal(round.policy_steps + round.expert_steps, round.frames);
  assert.ok(round.frames >= 2 && round.frames <= 8, `${round.frames} frames`);
  const last = r.readShard(r.index.shards.length - 1);
  assert.ok(last.episodes.every((e) => e.actor === 'policy' && e.task.kind === 'lamp_on' && e.env === 'B'));
  // The next round on this dataset defaults to a seed of its own.
  assert.equal(daggerOptions({ ...flags, data: out }).seed, 6);
  assert.throws(() => daggerOptions({ ...flags, data: out, seed: 5 }), /seeds 4, 5/);
  // A second round into the same folder is refused before anything is written.
  assert.equal(await main(['node', 'reconvla', 'dagger', '--model', folder, '--data', data, '--out', out, '--episodes', '1', '--backend', 'cpu']), 1);
  assert.equal(DatasetReader.open(out).index.episodes, base.episodes + 2);
});
