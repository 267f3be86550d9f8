// The locator (config "locator", ours): the spatial softmax reads the position of a peak, the
// instruction embedding is the mean of the words before the image, FiLM comes from the locator's
// own word table (not the LLM's embeddings),
// the points reach the state token, the loss is masked where the gaze box is out of view, and a
// few steps on one batch pull keypoint 0 to the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { F, Generator, noGrad, optim, tensor, type Backend } from '@reconvla/core';
import { TabletopEnv } from '@reconvla/tabletop';
import { testBackends } from '../../../test/helpers/backends.ts';
import {
  fourierFeatures, initFromScratch, instructionEmbedding, teacherForcedAccuracy, locatorLoss, parseReconVLAConfig, pixelCentreGrid, Processor, ReconVLA, spatialSoftmax, tinyConfigJson, Trainer,
  type BatchSource, type HostBatch, type LogEntry,
} from '../src/index.ts';
import { stage, syntheticSource, trainConfig } from './synthetic.ts';
import { collatePrompts } from '../src/prompt.ts';
import { observationViews } from '../src/sim/index.ts';

const all = await testBackends();
const backends = all.filter((b) => b.backend).map((b) => ({ name: b.name, backend: b.backend as Backend }));
const wasm = (backends.find((b) => b.name === 'wasm') ?? backends[0]!).backend;
const words = ['block', 'lift', 'red', 'the', 'blue'];
const json = tinyConfigJson({
  words, stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) },
  views: ['static', 'gripper'], stateEncoding: 'fourier', actionChunk: 1, nBins: 64, locator: true,
});

const finite = (xs: ArrayLike<number>): boolean => Array.from(xs).every(Number.isFinite);

test('config: the locator needs a state token and an instruction first; its fields are checked by name', () => {
  const c = parseReconVLAConfig(json);
  assert.deepEqual(c.locator, { channels: 32, keypoints: 4, lossWeight: 1, freeze: false, fourierBands: 6 });
  assert.equal(parseReconVLAConfig({ ...json, locator: {} }).locator!.fourierBands, 6);
  assert.equal(parseReconVLAConfig({ ...json, locator: { fourier_bands: 0 } }).locator!.fourierBands, 0);
  assert.throws(() => parseReconVLAConfig({ ...json, locator: { fourier_bands: -1 } }), /locator.fourier_bands -1/);
  assert.equal(parseReconVLAConfig({ ...json, locator: { freeze: true } }).locator!.freeze, true);
  assert.throws(() => parseReconVLAConfig({ ...json, locator: { freeze: 'yes' } }), /locator.freeze "yes"/);
  assert.equal(parseReconVLAConfig(tinyConfigJson({ words, stateRange: { min: [0], max: [1] } })).locator, null);
  assert.throws(() => parseReconVLAConfig({ ...json, prompt: { ...(json.prompt as object), state_encoding: 'bins' } }), /locator needs a state token/);
  assert.throws(() => parseReconVLAConfig({ ...json, prompt: { ...(json.prompt as object), layout: 'image-instr' } }), /locator reads the instruction before the image/);
  assert.throws(() => parseReconVLAConfig({ ...json, locator: { channels: 0 } }), /locator.channels 0/);
  assert.throws(() => parseReconVLAConfig({ ...json, locator: { keypoint: 3 } }), /unknown fields "keypoint"/);
});

test('fourierFeatures: the points, then sin and cos at 2^k pi, on every backend', async () => {
  const x = [0.25, -0.5, 0.9, 0];
  for (const { name, backend } of backends) {
    const got = await fourierFeatures(tensor(Float32Array.from(x), [2, 2], { backend }), 2).data();
    const want: number[] = [];
    for (const row of [x.slice(0, 2), x.slice(2)]) {
      want.push(...row);
      for (let k = 0; k < 2; k++) { want.push(...row.map((v) => Math.sin(2 ** k * Math.PI * v))); want.push(...row.map((v) => Math.cos(2 ** k * Math.PI * v))); }
    }
    assert.equal(got.length, want.length, name);
    got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-5, `${name} [${i}]: ${g} vs ${want[i]}`));
    assert.deepEqual(await fourierFeatures(tensor(Float32Array.from(x), [2, 2], { backend }), 0).data(), Float32Array.from(x));
  }
});

test('spatialSoftmax: a single strong peak gives its pixel centre, on every backend', async () => {
  for (const { name, backend } of backends) {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 2, max: 9 }), fc.nat(), fc.nat(), async (size, px, py) => {
      const x = px % size, y = py % size;
      const maps = new Float32Array(2 * size * size);
      maps[y * size + x] = 60; // map 0: a peak; map 1: flat, whose expectation is the centre (0, 0)
      const p = await spatialSoftmax(tensor(maps, [1, 2, size, size], { backend })).data() as Float32Array;
      assert.ok(finite(p), `${name}: NaN in ${Array.from(p)}`);
      assert.ok(Math.abs(p[0]! - ((2 * x + 1) / size - 1)) < 1e-4 && Math.abs(p[1]! - ((2 * y + 1) / size - 1)) < 1e-4, `${name}: peak (${x}, ${y}) of ${size}: ${Array.from(p)}`);
      assert.ok(Math.abs(p[2]!) < 1e-5 && Math.abs(p[3]!) < 1e-5, `${name}: flat map ${Array.from(p)}`);
    }), { numRuns: 20 });
  }
  assert.deepEqual(Array.from(pixelCentreGrid(2)), [-0.5, -0.5, 0.5, -0.5, -0.5, 0.5, 0.5, 0.5]);
});

test('spatialSoftmax: gradient matches finite differences', () => {
  const g = new Generator(3);
  const maps = F.randn([1, 2, 3, 3], { backend: wasm, generator: g });
  const w = F.randn([1, 2, 2], { backend: wasm, generator: g });
  const value = (m: Float32Array): number => {
    const p = spatialSoftmax(tensor(m, [1, 2, 3, 3], { backend: wasm })).dataSync() as Float32Array;
    const wv = w.dataSync() as Float32Array;
    return p.reduce((a, v, i) => a + v * wv[i]!, 0);
  };
  const x = tensor(maps.dataSync() as Float32Array, [1, 2, 3, 3], { backend: wasm, requiresGrad: true });
  F.sum(F.mul(spatialSoftmax(x), w)).backward();
  const grad = x.grad!.dataSync() as Float32Array, base = maps.dataSync() as Float32Array;
  for (let i = 0; i < base.length; i++) {
    const up = Float32Array.from(base), down = Float32Array.from(base);
    up[i]! += 1e-2; down[i]! -= 1e-2;
    const fd = (value(up) - value(down)) / 2e-2;
    assert.ok(Number.isFinite(grad[i]!) && Math.abs(grad[i]! - fd) < 2e-3, `d/dmap[${i}]: autograd ${grad[i]}, finite difference ${fd}`);
  }
});

test('instructionEmbedding is the mean of the word embeddings before the image placeholder', () => {
  const c = parseReconVLAConfig(json).prompt;
  const weight = tensor(Float32Array.from({ length: 20 * 3 }, (_, i) => i), [20, 3], { backend: wasm });
  const prompts = collatePrompts([[7, 9, c.imageTokenIndex, 7, 9, c.stateTokenIndex, 3, 4], [8, c.imageTokenIndex, 8, c.stateTokenIndex, 3, 4]], c, false);
  const e = instructionEmbedding(prompts, weight, c).dataSync() as Float32Array;
  assert.deepEqual(Array.from(e), [24, 25, 26, 24, 25, 26]); // mean of rows 7 and 9; row 8
  const noImage = collatePrompts([[7, 9, 3, 4]], c, false);
  assert.throws(() => instructionEmbedding(noImage, weight, c), /row 0 has no image placeholder/);
});

test('locatorLoss: mean |keypoint 0 of the first view - target| over the samples in view', () => {
  const points = tensor(Float32Array.from([0.5, -0.5, 9, 9, /* view 1 */ 9, 9, 9, 9, /* sample 1 */ 0, 0, 9, 9, 9, 9, 9, 9]), [2, 2, 2, 2], { backend: wasm });
  const target = tensor(Float32Array.from([0, 0, 1, 1]), [2, 2], { backend: wasm });
  assert.ok(Math.abs((locatorLoss(points, target, Float32Array.from([1, 0])).dataSync() as Float32Array)[0]! - 0.5) < 1e-6);
  assert.ok(Math.abs((locatorLoss(points, target, Float32Array.from([1, 1])).dataSync() as Float32Array)[0]! - 0.75) < 1e-6);
  assert.equal((locatorLoss(points, target, Float32Array.from([0, 0])).dataSync() as Float32Array)[0], 0);
  assert.throws(() => locatorLoss(points, target, Float32Array.from([1])), /mask of 1 for 2 samples/);
});

/** A batch of one frame's views; firstViewGaze: each sample's box in its first view (the other views get none). */
function batchOf(model: ReconVLA, instructions: string[], firstViewGaze: ([number, number, number, number] | null)[]): HostBatch {
  const obs = new TabletopEnv({ env: 'A' }).reset(4);
  const images = observationViews(obs, model.config.views);
  const n = instructions.length;
  const gaze = firstViewGaze.flatMap((box) => [box, ...new Array<null>(images.length - 1).fill(null)]);
  return {
    images: Array.from({ length: n }, () => images).flat(), targets: Array.from({ length: n }, () => images[0]!),
    instructions, states: Array.from({ length: n }, () => Float32Array.from(obs.proprio)),
    actions: Array.from({ length: n }, () => Float32Array.from([1, 0, -1, 0, 0, 0, 1])), gaze,
  };
}

test('the locator reads FiLM from its own N(0, 1) word table, changes the state token, and a few steps pull keypoint 0 to the gaze box centre', async () => {
  const model = new ReconVLA(parseReconVLAConfig(json), { backend: wasm, generator: new Generator(5) });
  initFromScratch(model, new Generator(5));
  assert.ok(model.locator);
  const table = model.locator.words.weight.dataSync() as Float32Array;
  const std = Math.sqrt(table.reduce((a, v) => a + v * v, 0) / table.length);
  assert.deepEqual(model.locator.words.weight.shape, [model.config.llm.vocabSize, 2 * 32]);
  assert.ok(std > 0.8 && std < 1.2, `FiLM table std ${std} (the probe's EmbeddingBag: N(0, 1))`);
  const keys = [...model.namedParameters()].map(([k]) => k).filter((k) => k.startsWith('model.locator.'));
  assert.deepEqual(keys.sort(), ['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'conv3.bias', 'conv3.weight', 'heat.bias', 'heat.weight', 'proj1.bias', 'proj1.weight', 'proj2.bias', 'proj2.weight', 'words.weight'].map((k) => `model.locator.${k}`));
  const processor = new Processor(model.config);
  const batch = batchOf(model, ['lift the red block', 'lift the blue block', 'lift the red block'], [[10, 60, 30, 80], [90, 40, 110, 60], null]);
  const inputs = processor.batchInputs(batch, wasm);
  assert.deepEqual(Array.from(inputs.locatorTarget!.inView), [1, 1, 0]);
  // The locator stage's inputs: the first view of each sample, the same prompts up to the image, the same target.
  const li = processor.locatorInputs(batch, wasm);
  const firstViews = F.reshape(F.slice(F.reshape(inputs.pixelValues, [3, 2, 3, 32, 32]), 1, 0, 1), [3, 3, 32, 32]);
  assert.deepEqual(Array.from(li.pixelValues.dataSync()), Array.from(firstViews.dataSync()));
  assert.deepEqual(Array.from(li.locatorTarget!.centre.dataSync()), Array.from(inputs.locatorTarget!.centre.dataSync()));
  assert.throws(() => model.locatorStageLoss({ ...li, pixelValues: inputs.pixelValues }), /pixelValues \[6, 3, 32, 32\] for 3 prompts: pass each sample's first view only/);
  // The instruction changes the points (rows 0 and 1 differ in one word, rows 0 and 2 not at all); the LLM's embeddings do not.
  const pointsNow = (): Float32Array => model.embedInputs(inputs.pixelValues, inputs.prompts, inputs.stateValues).locatorPoints!.dataSync() as Float32Array;
  const p0 = pointsNow(), per = 2 * 4 * 2;
  assert.ok(finite(p0) && p0.subarray(0, per).some((v, i) => Math.abs(v - p0[per + i]!) > 1e-4), 'red vs blue give other points');
  assert.deepEqual(Array.from(p0.subarray(0, per)), Array.from(p0.subarray(2 * per, 3 * per)));
  noGrad(() => model.lm.model.embed_tokens.weight.assign(F.mul(model.lm.model.embed_tokens.weight, 3)));
  assert.deepEqual(Array.from(pointsNow()), Array.from(p0));
  // Without the locator's features the state token would be the state projection alone.
  const { inputsEmbeds, locatorPoints } = model.embedInputs(inputs.pixelValues, inputs.prompts, inputs.stateValues);
  assert.deepEqual(locatorPoints!.shape, [3, 2, 4, 2]);
  const state = F.slice(model.stateProj!.forward(inputs.stateValues!), 0, 0, 1).dataSync() as Float32Array;
  const at = Array.from(inputs.prompts.inputIds.subarray(0, inputs.prompts.seqLen)).indexOf(model.config.prompt.stateTokenIndex);
  const d = model.config.llm.hiddenSize;
  const spliceAt = at + model.config.imageEmbedLen * model.config.views.length - 1; // one image placeholder before it
  const spliced = F.reshape(F.slice(F.slice(inputsEmbeds, 0, 0, 1), 1, spliceAt, spliceAt + 1), [d]).dataSync() as Float32Array;
  const differs = spliced.some((v, i) => Math.abs(v - state[i]!) > 1e-6);
  assert.ok(finite(spliced) && differs, 'the state token carries the locator features');

  const params = model.trainableParameters().filter(([k]) => k.startsWith('model.locator.')).map(([, p]) => p);
  const opt = new optim.AdamW(params, { lr: 1e-2, weightDecay: 0 });
  const locOf = (): number => (model.forward({ ...inputs, lmLoss: true, vmLoss: false }).locLoss!.dataSync() as Float32Array)[0]!;
  const first = locOf();
  for (let i = 0; i < 80; i++) {
    const out = model.forward({ ...inputs, lmLoss: true, vmLoss: false });
    out.loss.backward();
    opt.step(); opt.zeroGrad();
  }
  const last = locOf();
  assert.ok(Number.isFinite(first) && Number.isFinite(last) && last < first * 0.85, `locator loss ${first} -> ${last}`);
  // teacherForcedAccuracy reports the same error per axis, over the two in-view frames only.
  const acc = await teacherForcedAccuracy(model, processor, batch);
  const pts = model.embedInputs(inputs.pixelValues, inputs.prompts, inputs.stateValues).locatorPoints!.dataSync();
  const c = inputs.locatorTarget!.centre.dataSync();
  const want = [0, 1].map((axis) => (Math.abs(pts[axis]! - c[axis]!) + Math.abs(pts[per + axis]! - c[2 + axis]!)) / 2);
  assert.equal(acc.locatorFrames, 2);
  assert.ok(acc.locatorMeanAbsError!.every((e, axis) => Math.abs(e - want[axis]!) < 1e-5), `${acc.locatorMeanAbsError} vs ${want}`);
  assert.ok(Math.abs((acc.locatorMeanAbsError![0] + acc.locatorMeanAbsError![1]) / 2 - last) < 1e-5, 'the loss is the mean of both axes');
});

test('the locator stage trains the locator alone and logs its loss; freeze keeps its keypoints so afterwards (their loss logged, not in the total); without a locator the stage is refused by name', async () => {
  const model = tinyConfigJson({ words: ['ball', 'block', 'blue', 'drawer', 'lamp', 'left', 'lift', 'on', 'open', 'push', 'red', 'the', 'turn'], stateRange: { min: new Array(8).fill(0), max: new Array(8).fill(1) }, stateEncoding: 'fourier', locator: true, freezeLocator: true });
  // The synthetic batches with a gaze box per sample: a different corner per instruction.
  const boxes: [number, number, number, number][] = [[2, 2, 8, 8], [24, 2, 30, 8], [2, 24, 8, 30], [24, 24, 30, 30]];
  const source = (): BatchSource => async function* (o) {
    const it = syntheticSource({ fixed: true })(o);
    for (;;) {
      const b = (await it.next()).value as HostBatch;
      yield { ...b, gaze: b.instructions.map((_, i) => (i === 3 ? null : boxes[i % 4]!)) };
    }
  };
  const logs: LogEntry[] = [];
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-locator-'));
  // The locator stage, then two fine-tuning steps with the locator frozen (config locator.freeze).
  const stages = [stage('locator', 30, { batchSize: 4, lr: 1e-2, minLr: 1e-2, lmLoss: false, vmLoss: false }), stage('finetune', 2, { batchSize: 4, lr: 1e-2, vmLoss: false })];
  const snapshot = (m: ReconVLA): Map<string, Float32Array> => new Map([...m.namedParameters()].map(([k, p]) => [k, Float32Array.from(p.dataSync())]));
  const changedSince = (m: ReconVLA, then: Map<string, Float32Array>): string[] => [...m.namedParameters()].filter(([k, p]) => p.dataSync().some((v, i) => v !== then.get(k)![i])).map(([k]) => k);
  let afterStage: Map<string, Float32Array> | null = null;
  const trainer: Trainer = Trainer.create(trainConfig(stages, model), { runDir, backend: wasm, source, onLog: (e) => { logs.push(e); if (e.stage === 'locator' && e.step === 30) afterStage = snapshot(trainer.model); } });
  const before = snapshot(trainer.model);
  await trainer.run();
  assert.ok(afterStage, 'the locator stage logged its last step');
  const inStage = changedSince(trainer.model, before).filter((k) => afterStage!.get(k)!.some((v, i) => v !== before.get(k)![i]) && k.startsWith('model.locator.'));
  assert.ok(inStage.length > 0, 'the locator stage changed the locator');
  const inFinetune = changedSince(trainer.model, afterStage!);
  assert.ok(inFinetune.length > 0 && inFinetune.every((k) => !k.startsWith('model.locator.') || k.startsWith('model.locator.proj')), `fine-tuning changed: ${inFinetune.join(', ')}`);
  assert.ok(inFinetune.includes('model.locator.proj1.weight'), 'the points\' projection still learns');
  const locLogs = logs.filter((e) => e.stage === 'locator');
  assert.equal(locLogs.length, 30);
  assert.ok(locLogs.every((e) => e.lm === null && e.vm === null && e.loc === e.loss && Number.isFinite(e.loss)));
  assert.ok(locLogs.at(-1)!.loss < locLogs[0]!.loss * 0.85, `locator loss ${locLogs[0]!.loss} -> ${locLogs.at(-1)!.loss}`);
  // Frozen, the locator's loss is logged but left out of the total (it could move nothing).
  const fineLogs = logs.filter((e) => e.stage === 'finetune');
  assert.ok(fineLogs.length > 0 && fineLogs.every((e) => e.loc !== null && e.loc! > 0 && e.lm !== null && Math.abs(e.loss - e.lm) < 1e-6), JSON.stringify(fineLogs));
  trainer.model.dispose();
  const plain = tinyConfigJson({ words: ['lift'], stateRange: { min: new Array(8).fill(0), max: new Array(8).fill(1) }, stateEncoding: 'fourier' });
  const refused = Trainer.create(trainConfig([stage('locator', 1, { lmLoss: false, vmLoss: false })], plain), { runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-locator-')), backend: wasm, source });
  await assert.rejects(refused.run(), /a locator stage needs a model with a locator/);
  refused.model.dispose();
});
