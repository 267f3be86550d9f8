// Every dit* fixture in the golden folder: ReconDenoiser forward (every intermediate), the vm
// loss, and the gradients of every parameter and of the raw condition tokens, on every backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { parseDiTConfig, ReconDenoiser, sinCosPosEmbed2d, type Trace } from '../src/index.ts';

const OUT = { absElem: 5e-5, relElem: 1e-4 }; // README: |a - ref| <= 5e-5 + 1e-4 |ref|
const GRAD = { rel: 1e-4 };
const files = findFixtures(/^dit/);
const backends = await testBackends();

test('dit fixtures are present', (t) => {
  if (files.length === 0) t.skip('no dit*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const config = parseDiTConfig(fx.config());
  for (const tb of backends) {
    test(`${fx.name} on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}`);
      tidy(() => {
        const model = new ReconDenoiser(config, { backend });
        // The fixed position table we generate must equal the stored one.
        ck.expect(sinCosPosEmbed2d(config.embedDim, config.inputSize, backend), 'param.net.pos_embed', { absElem: 1e-7, relElem: 1e-6 });
        model.loadStateDict(fixtureStateDict(fx, backend));
        const cond = fx.tensor('input.cond', backend, true);
        const trace: Trace = new Map();
        const r = model.vmLoss({ cond, x0: fx.tensor('input.x0', backend), t: fx.tensor('input.t', backend), noise: fx.tensor('input.noise', backend) }, trace);
        ck.expect(r.xT, 'input.x_t', OUT);
        for (const [name, got] of trace) ck.expect(got, `output.${name}`, OUT);
        for (const name of fx.file.names()) {
          if (name.startsWith('output.') && !trace.has(name.slice(7)) && !['output.model_out', 'output.loss', 'output.mse_per_sample'].includes(name)) {
            ck.failures.push(`${name}: not produced by the model's trace`);
          }
        }
        ck.expect(r.modelOut, 'output.model_out', OUT);
        ck.expect(r.msePerSample, 'output.mse_per_sample', OUT);
        ck.expect(r.loss, 'output.loss', { rel: 1e-5 }, []);
        r.loss.backward();
        let grads = 0;
        for (const [key, p] of model.namedParameters()) {
          const ref = `grad.param.${key}`;
          if (!fx.has(ref)) { ck.failures.push(`${ref}: missing from the fixture`); continue; }
          assert.ok(p.grad, `no gradient reached ${key}`);
          ck.expect(p.grad, ref, GRAD);
          grads++;
        }
        assert.equal(grads, fx.file.names().filter((n) => n.startsWith('grad.param.')).length, 'every stored parameter gradient is checked');
        assert.ok(cond.grad, 'no gradient reached input.cond');
        ck.expect(cond.grad, 'grad.input.cond', GRAD);
        model.dispose();
      });
      await ck.flush(fx);
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
