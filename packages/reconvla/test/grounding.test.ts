// Explicit grounding (prompt.grounding_tokens 2): the answer is [box centre x, y, actions..., end];
// the grounding tokens are supervised like actions except where the gaze box is out of view, the
// teacher-forced accuracy keeps them apart from the actions, and the policy decodes them first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Generator, noGrad, tidy, type Backend } from '@reconvla/core';
import { feasibleTasks, TabletopEnv } from '@reconvla/tabletop';
import { testBackends } from '../../../test/helpers/backends.ts';
import {
  attentionMap, collatePrompts, groundingOf, initFromScratch, maskLabels, parseReconVLAConfig, predictActions, Processor, ReconVLA, teacherForcedAccuracy, tinyConfigJson, type HostBatch,
} from '../src/index.ts';
import { observationViews, reconvlaPolicy, trueGrounding } from '../src/sim/index.ts';

const all = await testBackends();
const backend = (all.find((b) => b.name === 'wasm' && b.backend) ?? all[0]!).backend as Backend;
const configJson = (grounding: true | 'all') => tinyConfigJson({
  words: ['block', 'lift', 'red', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) },
  views: ['static', 'gripper'], stateEncoding: 'fourier', actionChunk: 1, nBins: 64, grounding,
});
const json = configJson(true);
const model = new ReconVLA(parseReconVLAConfig(json), { backend, generator: new Generator(5) });
initFromScratch(model, new Generator(5));
const processor = new Processor(model.config);
// Grounding in every view: static x, y, then gripper x, y.
const allModel = new ReconVLA(parseReconVLAConfig(configJson('all')), { backend, generator: new Generator(6) });
initFromScratch(allModel, new Generator(6));
const allProcessor = new Processor(allModel.config);
const obs = new TabletopEnv({ env: 'A' }).reset(4);

test('config: grounding_tokens is 0 (upstream), 2 (first view) or 2 per view, anything else is named', () => {
  assert.equal(model.config.prompt.groundingTokens, 2);
  assert.equal(parseReconVLAConfig(tinyConfigJson({ words: ['a'], stateRange: { min: [0], max: [1] } })).prompt.groundingTokens, 0);
  assert.equal(allModel.config.prompt.groundingTokens, 4);
  for (const bad of [3, 6]) assert.throws(() => parseReconVLAConfig({ ...json, prompt: { ...(json.prompt as object), grounding_tokens: bad } }), new RegExp(`grounding_tokens ${bad} \\(0, 2 .* or 4 for it in each of the 2 views\\)`));
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

type Box = [number, number, number, number];
const GRIPPER_BOX: Box = [8, 16, 24, 40];

/** A batch of one frame's views; gaze: one box per image (static, gripper of sample 0, then sample 1...). */
function batchOf(gaze: (Box | null)[], m: ReconVLA = model): HostBatch {
  const images = observationViews(obs, m.config.views);
  const n = gaze.length / images.length;
  return {
    images: Array.from({ length: n }, () => images).flat(), targets: Array.from({ length: n }, () => images[0]!),
    instructions: new Array<string>(n).fill('lift the red block'), states: Array.from({ length: n }, () => Float32Array.from(obs.proprio)),
    actions: Array.from({ length: n }, () => Float32Array.from([1, 0, -1, 0, 0, 0, 1])), gaze,
  };
}

/** Row r's supervised labels. */
function supervised(prompts: { seqLen: number; labels: Int32Array }, r: number): number[] {
  const T = prompts.seqLen, ig = model.config.prompt.ignoreIndex;
  return Array.from(prompts.labels.subarray(r * T, (r + 1) * T)).filter((l) => l !== ig);
}

test('batch labels: the grounding of an out-of-view box is fed but not supervised', () => {
  const { width, height } = obs.static;
  const batch = batchOf([[10, 20, 30, 40], GRIPPER_BOX, null, GRIPPER_BOX]);
  const { prompts } = processor.batchInputs(batch, backend);
  const sup = (r: number) => supervised(prompts, r);
  assert.deepEqual(sup(0).slice(0, 2), processor.actions.encode(groundingOf([10, 20, 30, 40], width, height)));
  assert.equal(sup(0).length, 2 + 7 + 1);
  assert.equal(sup(1).length, 7 + 1, 'the placeholder grounding of row 1 is supervised');
  assert.deepEqual(sup(1), sup(0).slice(2));
  assert.throws(() => processor.batchInputs({ ...batch, gaze: undefined }, backend), /needs the batch's gaze boxes/);
  assert.throws(() => processor.batchInputs({ ...batch, gaze: batch.gaze!.slice(0, 2) }, backend), /2 gaze boxes for 4 images \(HostBatch.gaze holds one per image/);
});

test('grounding in every view: static x, y then gripper x, y, each view masked on its own when out of view', () => {
  const g = observationViews(obs, allModel.config.views)[1]!;
  const { width, height } = obs.static;
  const batch = batchOf([[10, 20, 30, 40], GRIPPER_BOX, null, GRIPPER_BOX, [10, 20, 30, 40], null, null, null], allModel);
  const { prompts } = allProcessor.batchInputs(batch, backend);
  const staticIds = allProcessor.actions.encode(groundingOf([10, 20, 30, 40], width, height));
  const gripperIds = allProcessor.actions.encode(groundingOf(GRIPPER_BOX, g.width, g.height));
  const actionIds = [...allProcessor.actions.encode([1, 0, -1, 0, 0, 0, 1]), allModel.config.prompt.endTokenId];
  assert.deepEqual(supervised(prompts, 0), [...staticIds, ...gripperIds, ...actionIds]);
  assert.deepEqual(supervised(prompts, 1), [...gripperIds, ...actionIds], 'the static box is out of view: its two tokens are not supervised');
  assert.deepEqual(supervised(prompts, 2), [...staticIds, ...actionIds]);
  assert.deepEqual(supervised(prompts, 3), actionIds);
  // The fed tokens of an out-of-view box are the placeholder 0, at the same positions in every row.
  const row1 = allProcessor.promptIds({ instruction: 'lift the red block', state: obs.proprio, actions: [1, 0, -1, 0, 0, 0, 1], grounding: [NaN, NaN, ...groundingOf(GRIPPER_BOX, g.width, g.height)] });
  const row0 = allProcessor.promptIds({ instruction: 'lift the red block', state: obs.proprio, actions: [1, 0, -1, 0, 0, 0, 1], grounding: [0, 0, ...groundingOf(GRIPPER_BOX, g.width, g.height)] });
  assert.deepEqual(row1, row0);
});

test('teacher-forced accuracy counts the actions apart from the grounding; the policy decodes grounding first', async () => {
  const acc = await teacherForcedAccuracy(model, processor, batchOf([[10, 20, 30, 40], GRIPPER_BOX, null, null, [0, 0, 4, 4], null]));
  assert.equal(acc.tokens, 3 * 7);
  assert.ok(acc.groundingMeanAbsError !== null && acc.groundingMeanAbsError.length === 2 && acc.groundingMeanAbsError.every((v) => Number.isFinite(v) && v >= 0 && v <= 2));
  const p = await predictActions(model, processor, { images: observationViews(obs, model.config.views), instruction: 'lift the red block', state: obs.proprio });
  assert.equal(p.ids.length, 2 + 7);
  assert.equal(p.grounding.length, 2);
  assert.equal(p.actions.length, 7);
  assert.deepEqual(Array.from(p.actions), Array.from(processor.actions.decode(p.ids.slice(2))));
  assert.deepEqual(Array.from(p.grounding), Array.from(processor.actions.decode(p.ids.slice(0, 2))));
});

test('attention maps of a grounding model: the answer fed back is its own grounding, then its actions', async () => {
  for (const [m, p] of [[model, processor], [allModel, allProcessor]] as const) {
    const map = await attentionMap(m, p, { images: observationViews(obs, m.config.views), instruction: 'lift the red block', state: obs.proprio });
    assert.equal(map.weights.length, m.config.imageEmbedLen);
    assert.ok(map.weights.every((w) => Number.isFinite(w) && w >= 0) && map.imageShare > 0 && map.imageShare <= 1 + 1e-6, `image share ${map.imageShare}`);
  }
});

test('teacher-forced grounding error per token, in every view: each token compared with its own label', async () => {
  // Only the gripper box is in view: tokens 0-1 have no labels (error 0 over 0 tokens), tokens 2-3 are scored.
  const batch = batchOf([null, GRIPPER_BOX], allModel);
  const acc = await teacherForcedAccuracy(allModel, allProcessor, batch);
  const err = acc.groundingMeanAbsError!;
  assert.equal(err.length, 4);
  assert.deepEqual(err.slice(0, 2), [0, 0]);
  // The untrained model misses the gripper box: its error lands on tokens 2-3, where the labels are.
  assert.ok(err[2]! > 0 && err[3]! > 0 && err.every((v) => v <= 2), `errors ${err.join(', ')}`);
  const both = await teacherForcedAccuracy(allModel, allProcessor, batchOf([[10, 20, 30, 40], GRIPPER_BOX], allModel));
  assert.ok(both.groundingMeanAbsError!.every((v) => v > 0), 'with both boxes in view every token is scored');
});

test('the grounding oracle: given box centres replace the model\'s grounding tokens, NaN fed as 0; the policy takes them from obs.gaze', async () => {
  const given = [0.5, -0.25, NaN, NaN];
  const p = await predictActions(allModel, allProcessor, { images: observationViews(obs, allModel.config.views), instruction: 'lift the red block', state: obs.proprio }, 'argmax', given);
  assert.deepEqual(p.ids.slice(0, 4), allProcessor.actions.encode([0.5, -0.25, 0, 0]));
  assert.equal(p.ids.length, 4 + 7);
  await assert.rejects(predictActions(allModel, allProcessor, { images: observationViews(obs, allModel.config.views), instruction: 'lift the red block', state: obs.proprio }, 'argmax', [0, 0]), /2 given grounding values, the config answers 4/);
  // The true grounding: each view's gaze box centre in its own camera, as training labels it.
  const env = new TabletopEnv({ env: 'A' });
  env.reset(4);
  env.setTask(feasibleTasks(env.state).find((t) => t.kind === 'lift')!);
  const tobs = env.observe();
  const truth = trueGrounding(tobs, allModel.config.views);
  const s = tobs.gaze.static!, g = tobs.gaze.gripper;
  assert.deepEqual(truth.slice(0, 2), groundingOf([s.x0, s.y0, s.x1, s.y1], tobs.static.width, tobs.static.height));
  assert.deepEqual(truth.slice(2), g ? groundingOf([g.x0, g.y0, g.x1, g.y1], tobs.gripper.width, tobs.gripper.height) : [NaN, NaN]);
  const fromTruth = await predictActions(allModel, allProcessor, { images: observationViews(tobs, allModel.config.views), instruction: 'lift the red block', state: tobs.proprio }, 'argmax', truth);
  const oracle = reconvlaPolicy(allModel, { grounding: 'oracle' });
  assert.deepEqual(Array.from(await oracle(tobs, 'lift the red block')), Array.from(fromTruth.actions));
  const none = tinyConfigJson({ words: ['block', 'lift', 'red', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) }, views: ['static'], stateEncoding: 'fourier', actionChunk: 1, nBins: 64 });
  assert.throws(() => reconvlaPolicy(new ReconVLA(parseReconVLAConfig(none), { backend, generator: new Generator(7) }), { grounding: 'oracle' }), /grounding from "oracle" needs a model with explicit grounding/);
  assert.throws(() => reconvlaPolicy(allModel, { grounding: 'locator' }), /grounding from "locator" needs a model with a locator/);
  // null: the model answers that token itself.
  const partial = await predictActions(allModel, allProcessor, { images: observationViews(tobs, allModel.config.views), instruction: 'lift the red block', state: tobs.proprio }, 'argmax', [0.5, -0.25, null, null]);
  assert.deepEqual(partial.ids.slice(0, 2), allProcessor.actions.encode([0.5, -0.25]));
  const own = await predictActions(allModel, allProcessor, { images: observationViews(tobs, allModel.config.views), instruction: 'lift the red block', state: tobs.proprio });
  assert.notDeepEqual(partial.ids.slice(0, 2), own.ids.slice(0, 2), 'pick given values the model would not answer itself');
});

test('grounding from the locator: the static view\'s centre is the locator\'s keypoint 0, the gripper view\'s the model\'s own answer', async () => {
  const locJson = tinyConfigJson({
    words: ['block', 'lift', 'red', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) },
    views: ['static', 'gripper'], stateEncoding: 'fourier', actionChunk: 1, nBins: 64, grounding: 'all', locator: true,
  });
  const m = new ReconVLA(parseReconVLAConfig(locJson), { backend, generator: new Generator(8) });
  initFromScratch(m, new Generator(8));
  const p = new Processor(m.config);
  const sample = { images: observationViews(obs, m.config.views), instruction: 'lift the red block', state: obs.proprio };
  const points = tidy(() => noGrad(() => {
    const prompts = collatePrompts([p.promptIds(sample)], m.config.prompt, false);
    return m.locator!.forward(p.samplePixels(sample, backend), prompts).points;
  }));
  const xy = Array.from((await points.data()) as Float32Array).slice(0, 2);
  points.dispose();
  const fromLocator = await predictActions(m, p, sample, 'argmax', 'locator');
  assert.deepEqual(fromLocator.ids.slice(0, 2), p.actions.encode(xy));
  // The gripper view's pair is what the model answers after that static pair.
  const sameStart = await predictActions(m, p, sample, 'argmax', [xy[0]!, xy[1]!, null, null]);
  assert.deepEqual(fromLocator.ids, sameStart.ids);
  await assert.rejects(predictActions(model, processor, sample, 'argmax', 'locator'), /grounding from the locator, but the model has none/);
  m.dispose();
});
