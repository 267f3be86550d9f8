// Every siglip* fixture: last_hidden_state, pooler_output, the sum-of-products loss and the
// gradients of every parameter and of pixel_values, on every backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { parseSiglipVisionConfig, SiglipVisionModel } from '../src/index.ts';

const OUT = { rel: 1e-4 };
/**
 * Key-bias gradients are zero in exact arithmetic (softmax ignores a per-query constant), so
 * float32 noise dominates them: absolute tolerance, as the fixture README says.
 */
const NEAR_ZERO = { abs: 1e-5 };
const files = findFixtures(/^siglip/);
const backends = await testBackends();

test('siglip fixtures are present', (t) => {
  if (files.length === 0) t.skip('no siglip*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const config = parseSiglipVisionConfig(fx.config());
  const d = config.hiddenSize;

  for (const tb of backends) {
    test(`${fx.name} on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}`);
      tidy(() => {
        const model = new SiglipVisionModel(config, { backend });
        model.loadStateDict(fixtureStateDict(fx, backend));
        const pixels = fx.tensor('input.pixel_values', backend, true);
        const out = model.forward(pixels, { outputHiddenStates: true });
        assert.equal(out.hiddenStates!.length, config.numHiddenLayers + 1);
        ck.expect(out.lastHiddenState, 'output.last_hidden_state', OUT);
        let loss = F.sum(F.mul(out.lastHiddenState, fx.tensor('input.gy.last_hidden_state', backend)));
        if (fx.has('output.pooler_output')) {
          ck.expect(out.poolerOutput!, 'output.pooler_output', OUT);
          loss = F.add(loss, F.sum(F.mul(out.poolerOutput!, fx.tensor('input.gy.pooler_output', backend))));
        }
        ck.expect(loss, 'output.loss', { rel: 1e-5 });
        loss.backward();
        const params = new Map(model.namedParameters());
        assert.equal(params.size, fx.file.names().filter((n) => n.startsWith('grad.param.')).length, 'one stored gradient per parameter');
        for (const [key, p] of params) {
          assert.ok(p.grad, `no gradient reached ${key}`);
          const ref = `grad.param.${key}`;
          if (key.endsWith('self_attn.k_proj.bias')) ck.expect(p.grad, ref, NEAR_ZERO);
          else if (key.endsWith('head.attention.in_proj_bias')) {
            // q and v parts relative to the whole tensor; the key part (rows D..2D) absolute.
            const refAll = fx.f32(ref);
            const maxRef = refAll.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
            ck.expect(F.concat([F.slice(p.grad, 0, 0, d), F.slice(p.grad, 0, 2 * d)]), `${ref} (q, v rows)`, { abs: 1e-4 * maxRef }, [2 * d],
              Float32Array.from([...refAll.slice(0, d), ...refAll.slice(2 * d)]));
            ck.expect(F.slice(p.grad, 0, d, 2 * d), `${ref} (k rows)`, NEAR_ZERO, [d], refAll.slice(d, 2 * d));
          } else ck.expect(p.grad, ref, OUT);
        }
        ck.expect(pixels.grad!, 'grad.input.pixel_values', OUT);
        model.dispose();
      });
      await ck.flush(fx);
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
