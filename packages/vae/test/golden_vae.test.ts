// Every vae* fixture: posterior mean and log-variance, the decoded posterior mode, the MSE loss,
// and the gradients of every parameter and of the input (both paths), on every backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { AutoencoderKL, parseVaeConfig } from '../src/index.ts';

const OUT = { rel: 1e-4 };
/** to_k.bias gradients are zero in exact arithmetic (softmax ignores a per-query shift). */
const NEAR_ZERO = { abs: 1e-5 };
const files = findFixtures(/^vae/);
const backends = await testBackends();

test('vae fixtures are present', (t) => {
  if (files.length === 0) t.skip('no vae*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const config = parseVaeConfig(fx.config());

  for (const tb of backends) {
    test(`${fx.name} on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}`);
      tidy(() => {
        const vae = new AutoencoderKL(config, { backend });
        vae.loadStateDict(fixtureStateDict(fx, backend));
        const x = fx.tensor('input.sample', backend, true);
        const posterior = vae.encode(x);
        ck.expect(posterior.mean, 'output.latent_mean', OUT);
        ck.expect(posterior.logvar, 'output.latent_logvar', OUT);
        const decoded = vae.decode(posterior.mode());
        ck.expect(decoded, 'output.decoded', OUT);
        const loss = F.mseLoss(decoded, x);
        ck.expect(loss, 'output.loss', { rel: 1e-5 });
        loss.backward();
        const params = new Map(vae.namedParameters());
        assert.equal(params.size, fx.file.names().filter((n) => n.startsWith('grad.param.')).length, 'one stored gradient per parameter');
        for (const [key, p] of params) {
          assert.ok(p.grad, `no gradient reached ${key}`);
          ck.expect(p.grad, `grad.param.${key}`, key.endsWith('to_k.bias') ? NEAR_ZERO : OUT);
        }
        ck.expect(x.grad!, 'grad.input.sample', OUT);
        vae.dispose();
      });
      await ck.flush(fx);
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
