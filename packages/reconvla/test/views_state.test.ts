// Several camera views and the 'linear' state encoding: the model sees every view (changing the
// gripper image changes the action logits), the state token carries the state (changing it changes
// the logits, and its projection gets gradients), recon tokens come from the first view only, and
// the splice puts the state features exactly where the placeholder was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { F, Generator, noGrad, tidy, type Backend } from '@reconvla/core';
import { TabletopEnv } from '@reconvla/tabletop';
import { testBackends } from '../../../test/helpers/backends.ts';
import { buildPromptIds, collatePrompts, gazeShare, initFromScratch, parseReconVLAConfig, planSplice, predictActions, Processor, ReconVLA, spliceEmbeddings, tinyConfigJson, type PromptConfig } from '../src/index.ts';
import { observationViews, reconvlaPolicy } from '../src/sim/index.ts';

const all = await testBackends();
const backend = (all.find((b) => b.name === 'wasm' && b.backend) ?? all[0]!).backend as Backend;

const json = tinyConfigJson({
  words: ['block', 'drawer', 'lift', 'open', 'red', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) },
  views: ['static', 'gripper'], stateEncoding: 'linear', actionChunk: 1, ablation: { unfreeze_vision_tower: true },
});
const model = new ReconVLA(parseReconVLAConfig(json), { backend, generator: new Generator(2) });
initFromScratch(model, new Generator(2));
const processor = new Processor(model.config);
const env = new TabletopEnv({ env: 'A' });
const obs = env.reset(3);

test('config: image_views and state_encoding parse, and bad values are named', () => {
  assert.deepEqual(model.config.views, ['static', 'gripper']);
  assert.equal(model.config.prompt.stateEncoding, 'linear');
  assert.ok(model.stateProj, 'model.state_proj exists');
  assert.ok([...model.namedParameters()].some(([k]) => k === 'model.state_proj.weight'));
  assert.throws(() => parseReconVLAConfig({ ...json, image_views: ['static', 'static'] }), /image_views/);
  assert.throws(() => parseReconVLAConfig({ ...json, prompt: { ...(json.prompt as object), state_encoding: 'sine' } }), /state_encoding "sine"/);
});

/** The last prompt position's logits over the action ids, for one observation. */
function lastLogits(images: ReturnType<typeof observationViews>, state: Float32Array): Float32Array {
  return tidy(() => noGrad(() => {
    const prompts = collatePrompts([processor.promptIds({ instruction: 'lift the red block', state })], model.config.prompt, false);
    const { plan, inputsEmbeds } = model.embedInputs(processor.samplePixels({ images }, backend), prompts, processor.stateValues([state], backend));
    const { logits } = model.runLanguageModel(plan, inputsEmbeds);
    return F.slice(logits, 1, plan.length - 1, plan.length);
  })).dataSync() as Float32Array;
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('the gripper view and the state both reach the action logits', () => {
  const images = observationViews(obs, model.config.views);
  const base = lastLogits(images, obs.proprio);
  assert.ok(base.every(Number.isFinite));
  const black = { ...images[1]!, data: new Uint8Array(images[1]!.data.length) };
  assert.ok(maxDiff(base, lastLogits([images[0]!, black], obs.proprio)) > 1e-4, 'blanking the gripper view changes nothing');
  const moved = Float32Array.from(obs.proprio, (v, i) => (i === 0 ? v + 0.3 : v));
  assert.ok(maxDiff(base, lastLogits(images, moved)) > 1e-4, 'moving the gripper in the state changes nothing');
});

test('a training step: state projection and vision tower get gradients; recon tokens are the first view\'s 16', () => {
  const images = observationViews(obs, model.config.views);
  const row = processor.promptIds({ instruction: 'open the drawer', state: obs.proprio, actions: new Float32Array(7).fill(0.5) });
  const out = model.forward({
    pixelValues: processor.pixels([...images, ...images], backend), prompts: collatePrompts([row, row], model.config.prompt),
    targetImages: processor.pixels([images[0]!, images[0]!], backend), stateValues: processor.stateValues([obs.proprio, obs.proprio], backend),
    generator: new Generator(0),
  });
  assert.deepEqual(out.imageFeatures.shape, [2, 32, model.config.llm.hiddenSize]);
  assert.deepEqual(out.reconTokens.shape, [2, 16, model.config.llm.hiddenSize]);
  out.loss.backward();
  const g = model.stateProj!.weight.grad;
  assert.ok(g && (g.dataSync() as Float32Array).some((v) => v !== 0), 'state_proj.weight has a gradient');
  const vt = [...model.visionTower.namedParameters()].find(([k]) => k.endsWith('patch_embedding.weight'))![1];
  assert.ok(vt.grad, 'the unfrozen vision tower gets gradients');
  model.zeroGrad();
  tidy(() => { out.loss.dispose(); });
});

test('policy: predicts valid actions from both views and the projected state', async () => {
  const policy = reconvlaPolicy(model);
  const a = await policy(obs, 'lift the red block');
  assert.equal(a.length, 7);
  for (const v of a) assert.ok(Number.isFinite(v) && v >= -1 && v <= 1, `action value ${v}`);
  const p = await predictActions(model, processor, { images: observationViews(obs, model.config.views), instruction: 'lift the red block', state: obs.proprio });
  assert.equal(p.ids.length, 7);
  assert.throws(() => processor.samplePixels({ images: [observationViews(obs, ['static'])[0]!] }, backend), /1 image\(s\) for the views static, gripper/);
});

test('splice: the state placeholder takes row r of the state features, text and image rows are unchanged', () => {
  const cfg: PromptConfig = { ...model.config.prompt, stateEncoding: 'linear' };
  const d = 4, imageLen = 3;
  fc.assert(fc.property(fc.array(fc.array(fc.integer({ min: 5, max: 40 }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 }), (instrs) => {
    const rows = instrs.map((instruction) => buildPromptIds({ instruction, state: [cfg.stateTokenIndex], actions: [100, 101] }, cfg));
    const batch = collatePrompts(rows, cfg);
    const plan = planSplice(batch, imageLen, cfg);
    assert.ok(plan.hasState);
    const b = rows.length;
    const out = tidy(() => {
      const table = F.tensor(Float32Array.from({ length: 128 * d }, (_, i) => i), [128, d], { backend });
      const image = F.full([b, imageLen, d], -1, { backend });
      const state = F.tensor(Float32Array.from({ length: b * d }, (_, i) => 1000 + i), [b, d], { backend });
      return spliceEmbeddings(plan, table, image, state).dataSync() as Float32Array;
    });
    rows.forEach((ids, r) => {
      const withoutImage = ids.filter((id) => id !== cfg.imageTokenIndex);
      const at = withoutImage.indexOf(cfg.stateTokenIndex);
      const pos = at >= plan.boi[r]! ? at + imageLen : at; // the image expands before it when it comes first
      const v = out.subarray((r * plan.length + pos) * d, (r * plan.length + pos + 1) * d);
      assert.deepEqual(Array.from(v), [0, 1, 2, 3].map((k) => 1000 + r * d + k));
      assert.equal(plan.labels[r * plan.length + pos], cfg.ignoreIndex);
    });
  }), { numRuns: 30 });
  const noState = collatePrompts([buildPromptIds({ instruction: [7], state: [cfg.stateTokenIndex] }, cfg), buildPromptIds({ instruction: [7], state: [9] }, cfg)], cfg, false);
  assert.throws(() => planSplice(noState, imageLen, cfg), /every row must hold one state placeholder/);
});

test('fourier state encoding: [s, sin(2^k pi s), cos(2^k pi s)] into a projection of that width', () => {
  const fjson = tinyConfigJson({
    words: ['lift', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) }, stateEncoding: 'fourier',
  });
  const m = new ReconVLA(parseReconVLAConfig(fjson), { backend, generator: new Generator(4) });
  const bands = m.config.prompt.stateFourierBands;
  assert.deepEqual(m.stateProj!.weight.shape, [m.config.llm.hiddenSize, 8 * (1 + 2 * bands)]);
  const state = Float32Array.from([0.5, -0.25, 0, 1, -1, 0.1, 0.7, 0.3]);
  const v = new Processor(m.config).stateValues([state], backend).dataSync() as Float32Array;
  assert.equal(v.length, 8 * (1 + 2 * bands));
  for (let d = 0; d < 8; d++) {
    assert.ok(Math.abs(v[d]! - state[d]!) < 1e-6);
    for (let k = 0; k < bands; k++) {
      const at = 8 + (k * 8 + d) * 2;
      assert.ok(Math.abs(v[at]! - Math.sin(2 ** k * Math.PI * state[d]!)) < 1e-5, `sin band ${k} dim ${d}`);
      assert.ok(Math.abs(v[at + 1]! - Math.cos(2 ** k * Math.PI * state[d]!)) < 1e-5, `cos band ${k} dim ${d}`);
    }
  }
  m.dispose();
});

test('gazeShare: the attention mass of the patches inside the box, partial patches by area', () => {
  const map = { weights: Float32Array.from({ length: 16 }, (_, i) => (i === 5 ? 0.5 : 0.5 / 15)), grid: 4, imageShare: 1, firstViewShare: 1 };
  // Patch 5 is row 1, column 1: pixels [32, 64) x [32, 64) of a 128x128 frame.
  assert.ok(Math.abs(gazeShare(map, [32, 32, 64, 64], 128, 128) - 0.5) < 1e-6);
  assert.ok(Math.abs(gazeShare(map, [0, 0, 128, 128], 128, 128) - 1) < 1e-6);
  assert.equal(gazeShare(map, [200, 200, 210, 210], 128, 128), 0);
  // Half of patch 5 and half of patch 6 (row 1, column 2).
  assert.ok(Math.abs(gazeShare(map, [48, 32, 80, 64], 128, 128) - (0.25 + 0.5 / 30)) < 1e-6);
  fc.assert(fc.property(fc.integer({ min: 0, max: 127 }), fc.integer({ min: 0, max: 127 }), fc.integer({ min: 1, max: 128 }), fc.integer({ min: 1, max: 128 }), (x, y, w, h) => {
    const v = gazeShare(map, [x, y, x + w, y + h], 128, 128);
    assert.ok(v >= 0 && v <= 1 + 1e-6, `share ${v}`);
  }));
});

test('patch 4: 64 image tokens per view reach the LLM; the recon tokens are their 2x2 means on the DiT\'s 4x4 grid', () => {
  const pjson = tinyConfigJson({
    words: ['lift', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) }, views: ['static', 'gripper'], stateEncoding: 'linear', actionChunk: 1, patchSize: 4,
  });
  const m = new ReconVLA(parseReconVLAConfig(pjson), { backend, generator: new Generator(5) });
  initFromScratch(m, new Generator(5));
  const p = new Processor(m.config);
  assert.equal(m.config.imageEmbedLen, 64);
  const images = observationViews(obs, m.config.views);
  const row = p.promptIds({ instruction: 'lift the', state: obs.proprio, actions: new Float32Array(7).fill(0.25) });
  const out = m.forward({
    pixelValues: p.pixels(images, backend), prompts: collatePrompts([row], m.config.prompt),
    targetImages: p.pixels([images[0]!], backend), stateValues: p.stateValues([obs.proprio], backend), generator: new Generator(1),
  });
  const d = m.config.llm.hiddenSize;
  assert.deepEqual(out.imageFeatures.shape, [1, 128, d]);
  assert.deepEqual(out.reconTokens.shape, [1, 16, d]);
  const loss = (out.loss.dataSync() as Float32Array)[0]!;
  assert.ok(Number.isFinite(loss) && out.vmLoss !== null, `loss ${loss}, vm ${String(out.vmLoss)}`);
  // Recompute the pooling on the host from the hidden states at the first view's 64 positions.
  const hidden = out.hiddenStates.dataSync() as Float32Array, recon = out.reconTokens.dataSync() as Float32Array;
  const boi = out.plan.boi[0]!;
  let worst = 0;
  for (let gy = 0; gy < 4; gy++) for (let gx = 0; gx < 4; gx++) for (let c = 0; c < d; c++) {
    let s = 0;
    for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) s += hidden[(boi + (2 * gy + dy) * 8 + 2 * gx + dx) * d + c]!;
    worst = Math.max(worst, Math.abs(s / 4 - recon[(gy * 4 + gx) * d + c]!));
  }
  assert.ok(worst < 1e-5, `pooled recon tokens differ by ${worst}`);
  tidy(() => { out.loss.dispose(); });
  assert.throws(() => tinyConfigJson({ words: ['a'], stateRange: { min: [0], max: [1] }, patchSize: 3 }), /patchSize 3/);
});
