// Every qwen2* fixture: logits, ForCausalLMLoss and every parameter gradient for a padded batch,
// greedy decoding (ids and step logits), and KV-cache decoding equal to the full forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { F, noGrad, tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { KVCache, parseQwen2Config, Qwen2ForCausalLM } from '../src/index.ts';

const OUT = { rel: 1e-4 };
const files = findFixtures(/^qwen2/);
const backends = await testBackends();

test('qwen2 fixtures are present', (t) => {
  if (files.length === 0) t.skip('no qwen2*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const config = parseQwen2Config(fx.config());

  for (const tb of backends) {
    test(`${fx.name}: logits, loss and gradients on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}`);
      tidy(() => {
        const model = new Qwen2ForCausalLM(config, { backend });
        model.loadStateDict(fixtureStateDict(fx, backend));
        assert.equal(model.stateDict().has('lm_head.weight'), !config.tieWordEmbeddings);
        const out = model.forward({
          inputIds: fx.tensor('input.input_ids', backend), attentionMask: fx.tensor('input.attention_mask', backend), labels: fx.tensor('input.labels', backend),
        });
        ck.expect(out.logits, 'output.logits', OUT);
        ck.expect(out.loss!, 'output.loss', { rel: 1e-5 });
        out.loss!.backward();
        const refs = fx.file.names().filter((n) => n.startsWith('grad.param.'));
        const params = new Map(model.namedParameters());
        assert.equal(params.size, refs.length, 'one stored gradient per parameter');
        for (const [key, p] of params) {
          assert.ok(p.grad, `no gradient reached ${key}`);
          ck.expect(p.grad, `grad.param.${key}`, OUT);
        }
        model.dispose();
      });
      await ck.flush(fx);
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });

    test(`${fx.name}: greedy decoding and KV cache on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}/generate`);
      const model = tidy(() => { const m = new Qwen2ForCausalLM(config, { backend }); m.loadStateDict(fixtureStateDict(fx, backend)); return m; });
      const [, total] = fx.shape('output.greedy_ids') as [number, number];
      const steps = fx.shape('output.greedy_step_logits')[0]!;
      const all = Array.from(fx.file.readInt32('output.greedy_ids'));
      const prompt = all.slice(0, total - steps);
      const r = await model.generate([prompt], { maxNewTokens: steps, eosTokenId: null });
      assert.deepEqual(r.ids[0], all, 'greedy ids');
      const stepRef = fx.f32('output.greedy_step_logits');
      const v = config.vocabSize;
      assert.equal(r.stepLogits.length, steps, 'one row of step logits per generated token');
      r.stepLogits.forEach((row, i) => ck.compare(row, stepRef.subarray(i * v, (i + 1) * v), `output.greedy_step_logits[${i}]`, OUT));

      // Cache equality: the prompt in two chunks, then one token at a time, against one full pass.
      const [full, parts] = tidy(() => noGrad(() => {
        const ids = F.tensor(Int32Array.from(all), [1, total], { backend, dtype: 'int32' });
        const fullLogits = model.forward({ inputIds: ids }).logits;
        const cache = new KVCache(config.numHiddenLayers);
        const cuts = [0, Math.floor(prompt.length / 2), prompt.length, ...Array.from({ length: steps }, (_, i) => prompt.length + i + 1)];
        const pieces = [];
        for (let i = 0; i + 1 < cuts.length; i++) {
          const chunk = F.slice(ids, 1, cuts[i]!, cuts[i + 1]!);
          pieces.push(model.forward({ inputIds: chunk, cache, attentionMask: F.ones([1, cuts[i + 1]!], { backend, dtype: 'int32' }) }).logits);
        }
        cache.dispose();
        return [fullLogits, F.concat(pieces, 1)];
      }));
      const a = await full.data(), b = await parts.data();
      ck.compare(b, a, 'kv-cache logits vs full forward', { rel: 1e-5 });
      full.dispose(); parts.dispose(); model.dispose();
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
