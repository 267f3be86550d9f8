// Every reconvla* fixture: one ReconVLA training step, forward and backward, on every backend.
// Intermediates, both losses, the gradient of every trainable parameter (and no gradient for
// the frozen ones), and the action tokenizer's ids and decodings. Sizes come from the fixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { parseReconVLAConfig, ReconVLA, type PromptBatch } from '../src/index.ts';

const OUT = { rel: 1e-4 }; // README: max|got - ref| <= 1e-4 max|ref| per tensor
const GRAD = { rel: 1e-4 };
const LOSS = { rel: 1e-5 };
const files = findFixtures(/^reconvla/);
const backends = await testBackends();

test('reconvla fixtures are present', (t) => {
  if (files.length === 0) t.skip('no reconvla*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const config = parseReconVLAConfig(fx.config());
  const [b, t] = fx.shape('input.input_ids') as [number, number];
  const prompts: PromptBatch = {
    batchSize: b, seqLen: t, inputIds: fx.file.readInt32('input.input_ids'),
    attentionMask: fx.file.readInt32('input.attention_mask'), labels: fx.file.readInt32('input.labels'),
  };

  test(`${fx.name}: action tokenizer`, () => {
    const model = new ReconVLA(config, { backend: backends[0]!.backend! });
    const tok = model.actionTokenizer;
    const ints = (name: string): number[] => Array.from(fx.file.readInt32(name));
    assert.deepEqual(tok.encode(fx.f32('input.actions')), ints('output.action_token_ids'));
    assert.deepEqual(tok.encode(fx.f32('input.state')), ints('output.state_token_ids'));
    const close = (got: ArrayLike<number>, ref: ArrayLike<number>, what: string): void => {
      assert.equal(got.length, ref.length, what);
      for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(got[i]! - ref[i]!) <= 1e-6, `${what}[${i}]: ${got[i]} vs ${ref[i]}`);
    };
    close(Float32Array.from(tok.binCenters), fx.f32('output.bin_centers'), 'bin_centers');
    close(tok.decode(ints('output.action_token_ids')), fx.f32('output.action_gt_decoded'), 'action_gt_decoded');
    close(tok.decode(ints('output.action_pred_ids')), fx.f32('output.action_pred_decoded'), 'action_pred_decoded');
    const [lo, hi] = tok.tokenRange;
    assert.deepEqual([lo, hi], (fx.meta('config') as { action_tokenizer: { action_token_range: number[] } }).action_tokenizer.action_token_range);
    model.dispose();
  });

  for (const tb of backends) {
    test(`${fx.name}: training step on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}`);
      const int = (data: Int32Array | number[], shape: number[]) => F.tensor(Int32Array.from(data), shape, { backend, dtype: 'int32' });
      tidy(() => {
        const model = new ReconVLA(config, { backend });
        const r0 = model.loadStateDict(fixtureStateDict(fx, backend), { strict: false });
        assert.deepEqual(r0.unexpected, []);
        assert.deepEqual(r0.mismatched, []);
        assert.deepEqual(r0.missing.filter((k) => !k.startsWith('model.pixel_decoder.pixel_decoder.decoder.')), [], 'only the VAE decoder may be missing');
        const out = model.forward({
          pixelValues: fx.tensor('input.pixel_values', backend), prompts,
          targetImages: fx.tensor('input.target_images', backend), posteriorNoise: fx.tensor('input.posterior_noise', backend),
          t: fx.tensor('input.t', backend), noise: fx.tensor('input.noise', backend),
        });
        const { plan } = out;
        ck.expect(out.visionHidden, 'output.vision_hidden_state', OUT);
        ck.expect(out.imageFeatures, 'output.image_features', OUT);
        ck.expect(out.inputsEmbeds, 'output.inputs_embeds', OUT);
        ck.expect(int(plan.labels, [b, plan.length]), 'output.labels', OUT);
        ck.expect(int(plan.attentionMask, [b, plan.length]), 'output.attention_mask', OUT);
        ck.expect(int(plan.boi, [b]), 'output.boi_ids', OUT);
        ck.expect(int(plan.boi.map((x) => x + config.imageEmbedLen - 1), [b]), 'output.eoi_ids', OUT);
        ck.expect(out.hiddenStates, 'output.hidden_states', OUT);
        // The logits that predict each action token sit one position before it.
        const positions = fx.file.readInt32('output.action_positions');
        const k = positions.length / b;
        const rows = Int32Array.from(positions, (p, i) => Math.floor(i / k) * plan.length + p - 1);
        const v = out.logits.shape[2]!;
        const actionLogits = F.reshape(F.indexSelect(F.reshape(out.logits, [b * plan.length, v]), 0, int(rows, [rows.length])), [b, k, v]);
        ck.expect(actionLogits, 'output.action_logits', OUT);
        ck.expect(F.astype(F.argmax(actionLogits, -1), 'int32'), 'output.action_pred_ids', OUT);
        ck.expect(out.lmLoss!, 'output.lm_loss', LOSS);
        ck.expect(out.reconTokens, 'output.recon_tokens', OUT);
        ck.expect(out.vm!.lnPre, 'output.recon_tokens_ln_pre', OUT);
        ck.expect(out.target!.imagesVae, 'output.target_images_vae', OUT);
        ck.expect(out.target!.posterior.mean, 'output.posterior_mean', OUT);
        ck.expect(out.target!.posterior.logvar, 'output.posterior_logvar', OUT);
        ck.expect(out.target!.latentSample, 'output.latent_sample', OUT);
        ck.expect(out.target!.latent, 'output.target_latent', OUT);
        ck.expect(out.vm!.xT, 'output.x_t', OUT);
        ck.expect(out.vm!.modelOut, 'output.model_out', OUT);
        ck.expect(out.vm!.msePerSample, 'output.mse_per_sample', OUT);
        ck.expect(out.vmLoss!, 'output.vm_loss', LOSS);
        ck.expect(out.loss, 'output.loss', LOSS);
        out.loss.backward();
        const trainable = new Set(fx.meta<string[]>('trainable'));
        for (const [key, p] of model.namedParameters()) {
          const ref = `grad.param.${key}`;
          if (!trainable.has(key)) { assert.equal(p.grad, null, `frozen ${key} got a gradient`); continue; }
          assert.ok(p.grad, `no gradient reached ${key}`);
          ck.expect(p.grad, ref, GRAD);
          trainable.delete(key);
        }
        assert.deepEqual([...trainable], [], 'every trainable parameter of the fixture exists in the model');
        model.dispose();
      });
      await ck.flush(fx);
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
