// Qwen2 with float16 weights (Module.half(): every Linear weight and the tied embedding/LM head)
// on every backend, loaded through the checkpoint path that converts on upload.
//
// Two checks per backend:
// - against the float32 model run on the CPU with the same weights rounded to float16: the
//   kernels accumulate in float32 either way, so this is the float32 golden tolerance (1e-4 of
//   max|logit|) and shows that storing halves changes nothing but the weights' rounding;
// - against the PyTorch float64 logits (float32 weights): rounding each weight to float16 moves it
//   by up to 2^-11 (4.9e-4) relative. Over the model those errors have random signs and mostly
//   cancel, so logits move by about the unit roundoff of their scale (measured on qwen2_tiny:
//   9.3e-4 of max|logit|); the bound is 3e-3 of max|logit| (6x the unit roundoff), and the
//   summary prints the measured ratio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { F, noGrad, openCheckpoint, tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { parseQwen2Config, Qwen2ForCausalLM } from '../src/index.ts';
import { loadCheckpointInto } from '../src/checkpoint.ts';

const files = findFixtures(/^qwen2/);
const backends = await testBackends();

test('qwen2 float16: fixtures are present', (t) => {
  if (files.length === 0) t.skip('no qwen2*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const config = parseQwen2Config(fx.config());
  const cpu = backends[0]!.backend!;

  /** A model on backend with the fixture's weights; half: Module.half() first, so rank-2 weights
   * are converted to float16 as they are read from the checkpoint. */
  const load = (backend: Backend, half: boolean): Qwen2ForCausalLM => {
    const model = new Qwen2ForCausalLM(config, { backend }).eval();
    if (half) model.half();
    const ckpt = openCheckpoint(file);
    try {
      loadCheckpointInto(model, ckpt, backend, (n) => (n.startsWith('param.') ? n.slice('param.'.length) : null));
    } finally { ckpt.close(); }
    return model;
  };
  const inputs = (backend: Backend) => ({ inputIds: fx.tensor('input.input_ids', backend), attentionMask: fx.tensor('input.attention_mask', backend) });

  // The CPU float32 model with every rank-2 weight rounded to float16 (and back).
  const reference = tidy(() => noGrad(() => {
    const model = load(cpu, false);
    for (const [, p] of model.namedParameters()) if (p.rank === 2) p.assign(p.astype('float16').astype('float32'));
    const logits = model.forward(inputs(cpu)).logits;
    model.dispose();
    return logits;
  }));
  const refLogits = reference.dataSync() as Float32Array;

  for (const tb of backends) {
    test(`${fx.name} float16 weights on ${tb.name}: logits vs float32 on rounded weights, and vs PyTorch`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/float16/${tb.name}`);
      const model = load(backend, true);
      const halves = [...model.namedParameters()].filter(([, p]) => p.dtype === 'float16').map(([k]) => k);
      assert.ok(halves.includes('model.embed_tokens.weight') && halves.some((k) => k.endsWith('mlp.down_proj.weight')), 'weights stored as float16');
      assert.ok([...model.namedParameters()].every(([, p]) => p.dtype === (p.rank === 2 ? 'float16' : 'float32')), 'norms and biases stay float32');
      const logits = tidy(() => noGrad(() => model.forward(inputs(backend)).logits));
      const got = await logits.data();
      ck.compare(got, refLogits, 'logits vs float32 on f16-rounded weights', { rel: 1e-4 });
      ck.compare(got, fx.f32('output.logits'), 'logits vs PyTorch (float32 weights)', { rel: 3e-3 });
      // Greedy decoding runs on the half model too (its ids may differ from float32's at near ties).
      const r = await model.generate([[1, 2, 3]], { maxNewTokens: 3, eosTokenId: null });
      assert.equal(r.ids[0]!.length, 6);
      logits.dispose(); model.dispose();
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}

test('qwen2 fromPretrained({ float16: true }): a BF16 checkpoint is converted to float16 on upload', async (t) => {
  const [file] = files;
  if (!file) { t.skip('no qwen2 fixture'); return; }
  const fx = new Fixture(file);
  const config = parseQwen2Config(fx.config());
  const cpu = backends[0]!.backend!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-f16-'));
  try {
    const src = new Qwen2ForCausalLM(config, { backend: cpu });
    src.loadStateDict(fixtureStateDict(fx, cpu));
    await src.savePretrained(dir, { floatDtype: 'BF16' });
    src.dispose();
    const half = Qwen2ForCausalLM.fromPretrained(dir, { backend: cpu, float16: true });
    const full = Qwen2ForCausalLM.fromPretrained(dir, { backend: cpu });
    const ckpt = openCheckpoint(dir);
    try {
      for (const [key, p] of half.namedParameters()) {
        const q = new Map(full.namedParameters()).get(key)!;
        assert.equal(p.dtype, p.rank === 2 ? 'float16' : 'float32', key);
        assert.equal(ckpt.info(key).dtype, 'BF16');
        // float16 of the BF16 value (read as float32 exactly, then rounded once) is what was uploaded.
        const want = p.rank === 2 ? q.astype('float16').dataSync() : q.dataSync();
        assert.deepEqual(p.dataSync(), want, key);
      }
    } finally { ckpt.close(); }
    const ids = F.tensor([[1, 5, 9, 2]], [1, 4], { backend: cpu, dtype: 'int32' });
    const a = noGrad(() => half.forward({ inputIds: ids }).logits.dataSync());
    const b = noGrad(() => full.forward({ inputIds: ids }).logits.dataSync()) as Float32Array;
    const max = b.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= 3e-3 * max, `logit ${i}: ${a[i]} vs ${b[i]}`);
    half.dispose(); full.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
