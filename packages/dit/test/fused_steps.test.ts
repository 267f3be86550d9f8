// The sampling loops take the one-dispatch (combineRows) forms of the DDPM and DDIM updates;
// they must equal the step-by-step forms the golden schedule fixture checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { F, tidy } from '@reconvla/core';
import { GaussianDiffusion } from '../src/index.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { compareArrays } from '../../../test/helpers/golden.ts';

for (const tb of await testBackends()) {
  test(`fused DDPM and DDIM updates equal the step-by-step forms on ${tb.name}`, { skip: tb.skip ?? false }, async () => {
    const backend = tb.backend!;
    for (const respacing of ['1000', '50']) {
      const diffusion = GaussianDiffusion.create({ respacing });
      const n = 5, steps = diffusion.numTimesteps;
      const out = tidy(() => {
        const g = new F.Generator(3);
        const x = F.randn([n, 4, 3, 3], { backend, generator: g }), eps = F.randn([n, 4, 3, 3], { backend, generator: g });
        const noise = F.randn([n, 4, 3, 3], { backend, generator: g });
        // Include the first and last spaced steps (t = 0 takes no noise).
        const t = F.tensor(Int32Array.from([0, 1, steps >> 1, steps - 2, steps - 1]), [n], { backend, dtype: 'int32' });
        return {
          ddpm: diffusion.pSample(x, t, eps, noise).xPrev, ddpmFused: diffusion.pSampleFused(x, t, eps, noise),
          ddim: diffusion.ddimSample(x, t, eps).xPrev, ddimFused: diffusion.ddimSampleFused(x, t, eps),
        };
      });
      for (const [a, b] of [['ddpm', 'ddpmFused'], ['ddim', 'ddimFused']] as const) {
        const ref = await out[a].data(), got = await out[b].data();
        const err = compareArrays(got, ref, { rel: 1e-5, abs: 1e-6 }, `${b} (respacing ${respacing})`);
        assert.equal(err, null, err ?? '');
      }
      for (const v of Object.values(out)) v.dispose();
    }
  });
}
