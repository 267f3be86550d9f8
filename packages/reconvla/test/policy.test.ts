// The tabletop policy: valid 7-D actions from a real observation, one model call per action
// chunk, and reset() dropping the rest of a chunk. Also the reconstruction and attention pictures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, type Backend } from '@reconvla/core';
import { TabletopEnv } from '@reconvla/tabletop';
import { testBackends } from '../../../test/helpers/backends.ts';
import { attentionMap, initFromScratch, parseReconVLAConfig, Processor, ReconVLA, reconstructGaze } from '../src/index.ts';
import { observationViews, reconvlaPolicy } from '../src/sim/index.ts';
import { testModelJson } from './synthetic.ts';

const all = await testBackends();
const backend = (all.find((b) => b.name === 'wasm' && b.backend) ?? all[0]!).backend as Backend;
const model = new ReconVLA(parseReconVLAConfig(testModelJson()), { backend, generator: new Generator(1) });
initFromScratch(model, new Generator(1));
const env = new TabletopEnv({ env: 'D' });
const obs = env.reset(0);

test('policy: valid 7-D actions, one model call per chunk of 2, reset drops the rest of a chunk', async () => {
  let calls = 0;
  const policy = reconvlaPolicy(model, { onPredict: () => calls++ });
  for (let s = 0; s < 4; s++) {
    const a = await policy(obs, 'lift the red block');
    assert.equal(a.length, 7);
    for (const v of a) assert.ok(Number.isFinite(v) && v >= -1 && v <= 1, `action value ${v}`);
    env.step(a);
  }
  assert.equal(calls, 2);
  await policy(obs, 'open the drawer');
  policy.reset?.({ chain: 0, task: 1 });
  await policy(obs, 'open the drawer');
  assert.equal(calls, 4);
});

test('gaze reconstruction and attention map have the configured sizes', async () => {
  const p = new Processor(model.config);
  const sample = { images: observationViews(obs, model.config.views), instruction: 'lift the red block', state: obs.proprio };
  const img = await reconstructGaze(model, p, sample, { ddimSteps: 5, generator: new Generator(0) });
  assert.equal(img.width, model.config.decodeImageSize);
  assert.equal(img.data.length, img.width * img.height * 3);
  const map = await attentionMap(model, p, sample);
  assert.equal(map.weights.length, model.config.imageEmbedLen);
  assert.ok(map.imageShare > 0 && map.imageShare <= 1 + 1e-5, `share ${map.imageShare}`);
});
