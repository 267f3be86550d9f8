// SigLIP with float16 weights (Module.half(): Linear weights, the position embedding and the
// pooling head's in_proj; the patch conv kernel, norms and biases stay float32) on every backend:
// - outputs and the gradient w.r.t. pixel_values (it flows through the float16 weights) against
//   the CPU float32 model with the same weights rounded to float16: float32 accumulation on both
//   sides, so the float32 golden tolerance (1e-4 of max|ref|);
// - outputs against PyTorch's float64 reference from float32 weights: weight rounding (2^-11
//   relative) moves them by about the unit roundoff of their scale (measured on siglip_tiny:
//   8.9e-4 of max|ref|); bound 3e-3 of max|ref|.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, tidy, type Backend, type Tensor } from '@reconvla/core';
import { findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker, fixtureStateDict } from '../../../test/helpers/model_golden.ts';
import { parseSiglipVisionConfig, SiglipVisionModel } from '../src/index.ts';

const files = findFixtures(/^siglip/);
const backends = await testBackends();

test('siglip float16: fixtures are present', (t) => {
  if (files.length === 0) t.skip('no siglip*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const config = parseSiglipVisionConfig(fx.config());
  const cpu = backends[0]!.backend!;

  /** last_hidden_state, pooler_output (if any) and d loss / d pixels, read back. */
  const run = async (backend: Backend, half: boolean, roundOnly: boolean) => {
    const outs = tidy(() => {
      const model = new SiglipVisionModel(config, { backend }).eval();
      if (half) model.half();
      model.loadStateDict(fixtureStateDict(fx, backend)); // float32 entries cast into float16 parameters
      if (roundOnly) for (const [, p] of model.namedParameters()) if (p.rank === 2) p.assign(p.astype('float16').astype('float32'));
      const pixels = fx.tensor('input.pixel_values', backend, true);
      const out = model.forward(pixels);
      let loss = F.sum(F.mul(out.lastHiddenState, fx.tensor('input.gy.last_hidden_state', backend)));
      if (out.poolerOutput) loss = F.add(loss, F.sum(F.mul(out.poolerOutput, fx.tensor('input.gy.pooler_output', backend))));
      loss.backward();
      const halves = [...model.namedParameters()].filter(([, p]) => p.dtype === 'float16').length;
      const kept: Tensor[] = [out.lastHiddenState, pixels.grad!, ...(out.poolerOutput ? [out.poolerOutput] : [])];
      model.dispose();
      return { kept, halves };
    });
    const [last, gPixels, pooler] = await Promise.all(outs.kept.map((t) => t.data()));
    return { last: last!, gPixels: gPixels!, pooler, halves: outs.halves };
  };
  const reference = await run(cpu, false, true);

  for (const tb of backends) {
    test(`${fx.name} float16 weights on ${tb.name}: outputs and pixel gradients vs float32 on rounded weights, outputs vs PyTorch`, { skip: tb.skip ?? false }, async () => {
      const got = await run(tb.backend as Backend, true, false);
      assert.ok(got.halves > 4, `${got.halves} parameters stored as float16`);
      const ck = new Checker(`${fx.name}/float16/${tb.name}`);
      ck.compare(got.last, reference.last, 'last_hidden_state vs float32 on rounded weights', { rel: 1e-4 });
      ck.compare(got.gPixels, reference.gPixels, 'd/d pixel_values vs float32 on rounded weights', { rel: 1e-4 });
      ck.compare(got.last, fx.f32('output.last_hidden_state'), 'last_hidden_state vs PyTorch', { rel: 3e-3 });
      if (got.pooler) {
        ck.compare(got.pooler, reference.pooler!, 'pooler_output vs float32 on rounded weights', { rel: 1e-4 });
        ck.compare(got.pooler, fx.f32('output.pooler_output'), 'pooler_output vs PyTorch', { rel: 3e-3 });
      }
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
