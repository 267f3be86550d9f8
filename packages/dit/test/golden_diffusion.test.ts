// Every diffusion_schedule* fixture: the float64 tables of the schedule it names, q_sample, the DDPM step (with
// and without clip_denoised) and the DDIM step on the respaced diffusion, on every backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, tidy, type Backend } from '@reconvla/core';
import { findFixtures, Fixture, skipOrFail } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Checker } from '../../../test/helpers/model_golden.ts';
import { GaussianDiffusion, type TableName } from '../src/index.ts';

// Tables are float64 rounded to float32 once: they must agree to float32 rounding.
const TABLE = { absElem: 1e-30, relElem: 2e-7 };
const OUT = { absElem: 5e-6, relElem: 1e-5 };
const files = findFixtures(/^diffusion_schedule/);
const backends = await testBackends();

// Table names in the fixture (guided-diffusion's attribute names).
const FIXTURE_NAMES: Record<TableName, string> = {
  betas: 'betas', alphasCumprod: 'alphas_cumprod', alphasCumprodPrev: 'alphas_cumprod_prev', alphasCumprodNext: 'alphas_cumprod_next',
  sqrtAlphasCumprod: 'sqrt_alphas_cumprod', sqrtOneMinusAlphasCumprod: 'sqrt_one_minus_alphas_cumprod',
  logOneMinusAlphasCumprod: 'log_one_minus_alphas_cumprod', sqrtRecipAlphasCumprod: 'sqrt_recip_alphas_cumprod',
  sqrtRecipm1AlphasCumprod: 'sqrt_recipm1_alphas_cumprod', posteriorVariance: 'posterior_variance',
  posteriorLogVarianceClipped: 'posterior_log_variance_clipped', posteriorMeanCoef1: 'posterior_mean_coef1',
  posteriorMeanCoef2: 'posterior_mean_coef2', fixedLargeVariance: 'fixed_large_variance', fixedLargeLogVariance: 'fixed_large_log_variance',
};

test('diffusion schedule fixtures are present', (t) => {
  if (files.length === 0) skipOrFail(t, 'no diffusion_schedule*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

const SCHEDULES = ['cosine', 'linear'] as const;

/** The noise schedule the fixture states in __metadata__ ("format", else "schedule"), by name. */
function fixtureSchedule(fx: Fixture): (typeof SCHEDULES)[number] {
  for (const key of ['format', 'schedule']) {
    const text = fx.file.metadata[key] ?? '';
    const named = SCHEDULES.filter((s) => new RegExp(`\\b${s}\\b`, 'i').test(text));
    if (named.length === 1) return named[0]!;
  }
  throw new Error(`${fx.path}: __metadata__ "format"/"schedule" names none (or several) of the schedules ${SCHEDULES.join(', ')}`);
}

for (const file of files) {
  const fx = new Fixture(file);
  // Every size and setting from the file: steps, schedule, and the respacing's step count.
  const steps = fx.shape('output.schedule.betas')[0]!;
  const schedule = fixtureSchedule(fx);
  const full = GaussianDiffusion.create({ steps, schedule });
  const spacedCount = fx.shape('output.ddim.timestep_map')[0]!;
  const ddim = GaussianDiffusion.create({ steps, schedule, respacing: String(spacedCount) });

  test(`${fx.name}: float64 tables and respacing`, () => {
    const ck = new Checker(`${fx.name}/tables`);
    for (const name of Object.keys(full.tables) as TableName[]) {
      const ref = `output.schedule.${FIXTURE_NAMES[name]}`;
      assert.ok(fx.has(ref), `fixture has no ${ref}`);
      ck.compare(full.tables[name], fx.f32(ref), ref, TABLE);
    }
    assert.deepEqual([...ddim.timestepMap], Array.from(fx.file.readInt32('output.ddim.timestep_map')));
    ck.compare(ddim.tables.betas, fx.f32('output.ddim.spaced_betas'), 'spaced_betas', TABLE);
    ck.compare(ddim.tables.alphasCumprod, fx.f32('output.ddim.spaced_alphas_cumprod'), 'spaced_alphas_cumprod', TABLE);
    ck.compare(ddim.tables.alphasCumprodPrev, fx.f32('output.ddim.spaced_alphas_cumprod_prev'), 'spaced_alphas_cumprod_prev', TABLE);
    console.log(ck.summary());
    assert.deepEqual(ck.failures, []);
  });

  for (const tb of backends) {
    test(`${fx.name}: q_sample, DDPM and DDIM steps on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
      const backend = tb.backend as Backend;
      const ck = new Checker(`${fx.name}/${tb.name}`);
      const T = (name: string) => fx.tensor(name, backend);
      tidy(() => {
        ck.expect(full.qSample(T('input.q_sample.x0'), T('input.q_sample.t'), T('input.q_sample.noise')), 'output.q_sample.x_t', OUT);
        for (const clip of [false, true]) {
          const sfx = clip ? '_clip_denoised' : '';
          const p = full.pSample(T('input.p_sample.x_t'), T('input.p_sample.t'), T('input.p_sample.model_eps'), T('input.p_sample.noise'), { clipDenoised: clip });
          ck.expect(p.predXstart, `output.p_sample.pred_xstart${sfx}`, OUT);
          ck.expect(p.xPrev, `output.p_sample.x_prev${sfx}`, OUT);
          if (!clip) { ck.expect(p.mean, 'output.p_sample.mean', OUT); ck.expect(p.logVariance, 'output.p_sample.log_variance', OUT); }
          const k = T('input.ddim.spaced_index');
          const d = ddim.ddimSample(T('input.ddim.x_t'), k, T('input.ddim.model_eps'), { clipDenoised: clip });
          ck.expect(d.predXstart, `output.ddim.pred_xstart${sfx}`, OUT);
          ck.expect(d.xPrev, `output.ddim.x_prev${sfx}`, OUT);
          if (!clip) {
            ck.expect(d.eps, 'output.ddim.eps_rederived', OUT);
            ck.expect(ddim.modelTimesteps(k), 'output.ddim.t_model', {});
            // t_prev: the original timestep of the next spaced index, -1 after the last step.
            const prevIdx = F.sub(k, 1);
            const tPrev = F.where(F.ge(prevIdx, 0), ddim.modelTimesteps(F.maximum(prevIdx, 0)), -1);
            ck.expect(tPrev, 'output.ddim.t_prev', {});
          }
        }
      });
      await ck.flush(fx);
      console.log(ck.summary());
      assert.deepEqual(ck.failures, []);
    });
  }
}
