// The FLUX-style VAE path of every reconvla* fixture (no quant_conv, scaling and shift factors):
// encode the resized target image, sample with the stored noise, scale, pack 2x2, and compare
// posterior mean/logvar, the sample and the packed target latent. The checkpoint holds only the
// encoder, so it loads non-strictly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture, skipOrFail } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { AutoencoderKL, packLatents, parseVaeConfig, unpackLatents } from '../src/index.ts';

const OUT = { rel: 1e-4 };
const PREFIX = 'model.pixel_decoder.pixel_decoder.';
const files = findFixtures(/^reconvla/);
const backends = await testBackends();

// Registered whether or not there is a fixture, so its absence is a visible skip (or a CI failure).
test('reconvla fixtures for the VAE target latent are present', (t) => {
  if (files.length === 0) skipOrFail(t, 'no reconvla*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const full = fx.config<{ vae_config: unknown }>();
  const config = parseVaeConfig(full.vae_config);
  for (const tb of backends) {
    test(`${fx.name}: VAE target latent on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}/vae`);
      tidy(() => {
        const vae = new AutoencoderKL(config, { backend });
        const r = vae.loadStateDict(fixtureStateDict(fx, backend, PREFIX), { strict: false });
        assert.deepEqual(r.unexpected, []);
        assert.ok(r.missing.every((k) => k.startsWith('decoder.')), `only decoder keys may be missing: ${r.missing.filter((k) => !k.startsWith('decoder.')).join(', ')}`);
        const posterior = vae.encode(fx.tensor('output.target_images_vae', backend));
        ck.expect(posterior.mean, 'output.posterior_mean', OUT);
        ck.expect(posterior.logvar, 'output.posterior_logvar', OUT);
        const sample = posterior.sample({ noise: fx.tensor('input.posterior_noise', backend) });
        ck.expect(sample, 'output.latent_sample', OUT);
        const packed = packLatents(vae.scaleLatents(sample));
        ck.expect(packed, 'output.target_latent', OUT);
        ck.expect(vae.unscaleLatents(unpackLatents(packed)), 'output.latent_sample', OUT);
      });
      await ck.flush(fx);
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
