// Explicit grounding (prompt.grounding_tokens 2): the answer is [box centre x, y, actions..., end];
// the grounding tokens are supervised like actions except where the gaze box is out of view, the
// teacher-forced accuracy keeps them apart from the actions, and the policy decodes them first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Generator, type Backend } from '@reconvla/core';
import { TabletopEnv } from '@reconvla/tabletop';
import { testBackends } from '../../../test/helpers/backends.ts';
import {
  groundingOf, initFromScratch, maskLabels, parseReconVLAConfig, predictActions, Processor, ReconVLA, teacherForcedAccuracy, tinyConfigJson, type HostBatch,
} from '../src/index.ts';
import { observationViews } from '../src/sim/index.ts';

const all = await testBackends();
const backend = (all.find((b) => b.name === 'wasm' && b.backend) ?? all[0]!).backend as Backend;
const json = tinyConfigJson({
  words: ['block', 'lift', 'red', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) },
  views: ['static', 'gripper'], stateEncoding: 'fourier', actionChunk: 1, nBins: 64, grounding: true,
});
const model = new ReconVLA(parseReconVLAConfig(json), { backend, generator: new Generator(5) });
initFromScratch(model, new Generator(5));
const processor = new Processor(model.config);
const obs = new TabletopEnv({ env: 'A' }).reset(4);

test('config: grounding_tokens is 0 (upstream) or 2, anything else is named', () => {
  assert.equal(model.config.prompt.groundingTokens, 2);
  assert.equal(parseReconVLAConfig(tinyConfigJson({ words: ['a'], stateRange: { min: [0], max: [1] } })).prompt.groundingTokens, 0);
  assert.throws(() => parseReconVLAConfig({ ...json, prompt: { ...(json.prompt as object), grounding_tokens: 3 } }), /grounding_tokens 3/);
});

test('groundingOf maps a box centre to [-1, 1] in each axis', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 127 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (x0, y0, w, h) => {
    const [gx, gy] = groundingOf([x0, y0, x0 + w, y0 + h], 128, 96);
    assert.ok(Math.abs(gx - ((x0 + w / 2) / 64 - 1)) < 1e-9 && Math.abs(gy - ((y0 + h / 2) / 48 - 1)) < 1e-9);
  }));
  assert.deepEqual(groundingOf([0, 0, 128, 96], 128, 96), [0, 0]);
});

test('the answer is grounding then actions; a training row needs its grounding', () => {
  const actions = Float32Array.from([1, -1, 0, 0, 0, 0.5, 1]);
  const ids = processor.promptIds({ instruction: 'lift the red block', state: obs.proprio, actions, grounding: [-0.5, 0.25] });
  const labels = maskLabels(ids, model.config.prompt).filter((l) => l !== model.config.prompt.ignoreIndex);
  assert.deepEqual(labels, [...processor.actions.encode([-0.5, 0.25]), ...processor.actions.encode(actions), model.config.prompt.endTokenId]);
  assert.throws(() => processor.promptIds({ instruction: 'lift', state: obs.proprio, actions }), /grounding tokens before the actions/);
  assert.throws(() => processor.promptIds({ instruction: 'lift', state: obs.proprio, actions, grounding: [0] }), /1 grounding values, the config expects 2/);
  // A generation prompt ends at the colon, as without grounding.
  assert.equal(processor.promptIds({ instruction: 'lift', state: obs.proprio }).at(-1), model.config.prompt.colonTokenId);
});

function batchOf(gaze: HostBatch['gaze']): HostBatch {
  const images = observationViews(obs, model.config.views);
  const n = gaze!.length;
  return {
    images: Array.from({ length: n }, () => images).flat(), targets: Array.from({ length: n }, () => images[0]!),
    instructions: new Array<string>(n).fill('lift the red block'), states: Array.from({ length: n }, () => Float32Array.from(obs.proprio)),
    actions: Array.from({ length: n }, () => Float32Array.from([1, 0, -1, 0, 0, 0, 1])), gaze,
  };
}

test('batch labels: the grounding of an out-of-view box is fed but not supervised', () => {
  const { width, height } = obs.static;
  const batch = batchOf([[10, 20, 30, 40], null]);
  const { prompts } = processor.batchInputs(batch, backend);
  const T = prompts.seqLen, ig = model.config.prompt.ignoreIndex;
  const sup = (r: number): number[] => Array.from(prompts.labels.subarray(r * T, (r + 1) * T)).filter((l) => l !== ig);
  assert.deepEqual(sup(0).slice(0, 2), processor.actions.encode(groundingOf([10, 20, 30, 40], width, height)));
  assert.equal(sup(0).length, 2 + 7 + 1);
  assert.equal(sup(1).length, 7 + 1, 'the placeholder grounding of row 1 is supervised');
  assert.deepEqual(sup(1), sup(0).slice(2));
  assert.throws(() => processor.batchInputs({ ...batch, gaze: undefined }, backend), /needs the batch's gaze boxes/);
});

test('teacher-forced accuracy counts the actions apart from the grounding; the policy decodes grounding first', async () => {
  const acc = await teacherForcedAccuracy(model, processor, batchOf([[10, 20, 30, 40], null, [0, 0, 4, 4]]));
  assert.equal(acc.tokens, 3 * 7);
  assert.ok(acc.groundingMeanAbsError !== null && acc.groundingMeanAbsError.every((v) => Number.isFinite(v) && v >= 0 && v <= 2));
  const p = await predictActions(model, processor, { images: observationViews(obs, model.config.views), instruction: 'lift the red block', state: obs.proprio });
  assert.equal(p.ids.length, 2 + 7);
  assert.equal(p.grounding.length, 2);
  assert.equal(p.actions.length, 7);
  assert.deepEqual(Array.from(p.actions), Array.from(processor.actions.decode(p.ids.slice(2))));
  assert.deepEqual(Array.from(p.grounding), Array.from(processor.actions.decode(p.ids.slice(0, 2))));
});
