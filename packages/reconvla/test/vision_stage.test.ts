// The vision stage's objective: the sigmoid loss against a float64 reference and finite
// differences, the caption tokenizer, and the loss falling when the tower and the text side are
// trained on a fixed synthetic batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCpuBackend, F, Generator, optim, tensor, tidy, type Backend } from '@reconvla/core';
import type { RgbImage } from '@reconvla/siglip';
import { gradcheck, randomData, rng } from '../../../test/helpers/gradcheck.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { CaptionTokenizer, imageEmbeddings, initFromScratch, parseReconVLAConfig, Processor, ReconVLA, sigmoidLoss, SiglipObjective, visionStageLoss } from '../src/index.ts';
import { testModelJson } from './synthetic.ts';

const cpu = createCpuBackend();
const all = await testBackends();
const fast = (all.find((b) => b.name === 'wasm' && b.backend) ?? all[0]!).backend as Backend;

/** The loss in float64 on the host, straight from the definition. */
function referenceLoss(img: Float32Array, txt: Float32Array, b: number, d: number, t: number, bias: number): number {
  const unit = (x: Float32Array, i: number): number[] => {
    const row = Array.from(x.subarray(i * d, (i + 1) * d));
    const n = Math.hypot(...row);
    return row.map((v) => v / n);
  };
  let sum = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      const u = unit(img, i), v = unit(txt, j);
      const logit = Math.exp(t) * u.reduce((s, x, k) => s + x * v[k]!, 0) + bias;
      const z = i === j ? 1 : -1;
      sum += Math.log(1 / (1 + Math.exp(-z * logit)));
    }
  }
  return -sum / (b * b);
}

test('sigmoid loss: float64 reference, and gradients of embeddings, t and b by finite differences', () => {
  const b = 4, d = 3, r = rng(11);
  const img = randomData(b * d, r), txt = randomData(b * d, r);
  for (const [t, bias] of [[Math.log(10), -10], [0.5, 0.3], [2, -1]] as const) {
    const got = tidy(() => sigmoidLoss(tensor(img, [b, d], { backend: cpu }), tensor(txt, [b, d], { backend: cpu }), tensor([t], [1], { backend: cpu }), tensor([bias], [1], { backend: cpu })).loss.dataSync()[0]!);
    const want = referenceLoss(img, txt, b, d, t, bias);
    assert.ok(Math.abs(got - want) < 1e-5 * Math.max(1, Math.abs(want)), `t ${t} b ${bias}: ${got} vs ${want}`);
  }
  const worst = gradcheck(cpu, (i, x, t, bias) => sigmoidLoss(i!, x!, t!, bias!).loss, [
    { data: img, shape: [b, d] }, { data: txt, shape: [b, d] }, { data: Float32Array.of(0.7), shape: [1] }, { data: Float32Array.of(-0.4), shape: [1] },
  ], { h: 1e-2, tol: 2e-2 });
  assert.equal(worst, null, worst ?? '');
});

test('caption tokenizer: pad 0, unk 1, words from 2, padded or cut to the fixed length', () => {
  const tok = new CaptionTokenizer(['blue', 'cube', 'red'], 5);
  assert.equal(tok.vocabSize, 5);
  assert.deepEqual(tok.encode('Red cube.'), [4, 3, 0, 0, 0]);
  assert.deepEqual(tok.encode('red green cube, blue cube red'), [4, 1, 3, 2, 3]);
  assert.deepEqual(Array.from(tok.batch(['blue', ''], cpu).dataSync()), [2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => new CaptionTokenizer(['a', 'a'], 4), /"a" appears twice/);
});

test('the objective: HF names, t\' = log 10 and b = -10 at init, text ids beyond its vocabulary refused', () => {
  const model = new ReconVLA(parseReconVLAConfig(testModelJson()), { backend: cpu });
  const o = SiglipObjective.create(model, ['blue', 'red'], { max_position_embeddings: 8 }, { backend: cpu, generator: new Generator(0) });
  const keys = [...o.stateDict().keys()];
  assert.ok(keys.includes('text_model.embeddings.token_embedding.weight'));
  assert.ok(keys.includes('text_model.encoder.layers.0.self_attn.q_proj.weight'));
  assert.ok(keys.includes('text_model.head.weight'));
  assert.deepEqual(o.stateDict().get('image_head.weight')!.shape, [48, 48]);
  assert.ok(Math.abs(o.logit_scale.dataSync()[0]! - Math.log(10)) < 1e-6);
  assert.equal(o.logit_bias.dataSync()[0], -10);
  const small = SiglipObjective.create(model, ['blue'], {}, { backend: cpu, logitBias: -Math.log(31) });
  assert.ok(Math.abs(small.logit_bias.dataSync()[0]! + Math.log(31)) < 1e-6);
  small.dispose();
  assert.throws(() => SiglipObjective.create(model, ['blue', 'red'], { vocab_size: 3 }, { backend: cpu }), /2 caption words need 4 ids, the text config has vocab_size 3/);
  o.dispose();
  model.dispose();
});

test('image embedding: post_layernorm mean over patches, then over each sample\'s views, through the head', () => {
  const json = { ...testModelJson(), image_views: ['static', 'gripper'] };
  const model = new ReconVLA(parseReconVLAConfig(json), { backend: cpu, generator: new Generator(0) });
  const o = SiglipObjective.create(model, ['red'], {}, { backend: cpu, generator: new Generator(1) });
  tidy(() => {
    const px = tensor(randomData(4 * 3 * 32 * 32, rng(3)), [4, 3, 32, 32], { backend: cpu });
    const got = imageEmbeddings(model, o, px).dataSync();
    const pooled = F.mean(model.visionTower.forward(px).lastHiddenState, 1); // [4, 48]
    const perSample = F.mul(F.add(F.slice(pooled, 0, 0, 4, 2), F.slice(pooled, 0, 1, 4, 2)), 0.5); // views 0 and 1 of each sample
    const want = o.image_head.forward(perSample).dataSync();
    assert.equal(got.length, 2 * 48);
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5, `element ${i}: ${v} vs ${want[i]}`));
    assert.throws(() => imageEmbeddings(model, o, F.slice(px, 0, 0, 3)), /3 images do not split into samples of 2 views/);
  });
  o.dispose();
  model.dispose();
});

test('training the tower and the text side for 30 steps on a fixed batch: the loss falls, retrieval rises', () => {
  const model = new ReconVLA(parseReconVLAConfig(testModelJson()), { backend: fast, generator: new Generator(0) });
  initFromScratch(model, new Generator(0));
  model.visionTower.requiresGrad_(true);
  const words = ['red', 'green', 'blue', 'yellow', 'left', 'right', 'top', 'bottom'];
  const objective = SiglipObjective.create(model, words, { max_position_embeddings: 8 }, { backend: fast, generator: new Generator(1) });
  // Eight images, each a coloured square in one quadrant of a grey frame, captioned by colour and place.
  const colours: Record<string, [number, number, number]> = { red: [220, 30, 30], green: [30, 200, 40], blue: [30, 60, 230], yellow: [230, 220, 30] };
  const images: RgbImage[] = [], captions: string[] = [];
  for (const name of Object.keys(colours)) {
    for (const [q, place] of [['left', 'top'], ['right', 'bottom']].entries()) {
      const data = new Uint8Array(32 * 32 * 3).fill(128);
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) data.set(colours[name]!, ((y + 16 * q) * 32 + x + 16 * q) * 3);
      images.push({ data, width: 32, height: 32 });
      captions.push(`${name} ${place[0]} ${place[1]}`);
    }
  }
  const processor = new Processor(model.config);
  const params = [...model.visionTower.parameters(), ...objective.parameters()];
  const opt = new optim.AdamW(params, { lr: 3e-3 });
  const losses: number[] = [], accuracy: number[] = [];
  for (let step = 0; step < 30; step++) {
    tidy(() => {
      const r = visionStageLoss(model, objective, processor.pixels(images, fast), objective.tokenizer.batch(captions, fast));
      r.loss.backward();
      optim.clipGradNorm(params, 1);
      opt.step();
      opt.zeroGrad();
      losses.push(r.loss.dataSync()[0]!);
      accuracy.push(r.retrieval.dataSync()[0]!);
    });
  }
  assert.ok(losses.every(Number.isFinite));
  // The first steps mostly move b off -10 (1.3 -> 0.35 here); the rest is matching images to captions.
  assert.ok(losses.at(-1)! < 0.5 * losses[3]!, `loss ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  assert.ok(accuracy.at(-1)! >= 0.75, `retrieval ${accuracy.join(' ')}`);
  opt.dispose();
  objective.dispose();
  model.dispose();
});
