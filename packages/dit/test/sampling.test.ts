// Sampling loops: DDIM with a zero-noise model telescopes to x_T / sqrt(abar), DDPM is
// reproducible from a seeded generator, and ReconDenoiser.sample gives latents of the right shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCpuBackend, F, Generator, tidy } from '@reconvla/core';
import { GaussianDiffusion, parseDiTConfig, ReconDenoiser, spaceTimesteps } from '../src/index.ts';

const backend = createCpuBackend();

test('space_timesteps matches guided-diffusion', () => {
  assert.deepEqual(spaceTimesteps(1000, '10'), [0, 111, 222, 333, 444, 555, 666, 777, 888, 999]);
  assert.deepEqual(spaceTimesteps(100, 'ddim25'), Array.from({ length: 25 }, (_, i) => i * 4));
  assert.deepEqual(spaceTimesteps(10, '2,3'), [0, 4, 5, 7, 9]);
  assert.throws(() => spaceTimesteps(10, '20'), /cannot divide/);
});

test('DDIM with eps = 0 scales x_T by 1/sqrt(abar of the first spaced step)', () => {
  tidy(() => {
    const d = GaussianDiffusion.create({ steps: 1000, respacing: '10' });
    const xT = F.randn([2, 3, 2, 2], { backend, generator: new Generator(1) });
    const out = d.ddimSampleLoop((x) => F.zerosLike(x), [2, 3, 2, 2], { noise: xT });
    const scale = Math.sqrt(1 / d.tables.alphasCumprod[9]!);
    const want = xT.dataSync(), got = out.dataSync();
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]! * scale) <= 1e-4 * Math.abs(want[i]! * scale) + 1e-6);
  });
});

test('ReconDenoiser.sample: DDPM and DDIM latents, reproducible from the seed', () => {
  tidy(() => {
    const cfg = parseDiTConfig({ x_channel: 4, z_channel: 8, embed_dim: 16, depth: 1, num_heads: 2, input_size: 2, diffusion_steps: 20, timesteps: '20' });
    const model = new ReconDenoiser(cfg, { backend, generator: new Generator(0) });
    const z = model.lnPre(F.randn([1, 4, 8], { backend, generator: new Generator(2) }));
    const a = model.sample(z, { generator: new Generator(3) });
    const b = model.sample(z, { generator: new Generator(3) });
    assert.deepEqual(a.shape, [1, 4, 2, 2]);
    assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
    assert.ok(Array.from(a.dataSync()).every(Number.isFinite));
    assert.deepEqual(model.sample(z, { generator: new Generator(3), ddimSteps: 5 }).shape, [1, 4, 2, 2]);
  });
});

test('DiT config errors name the offending fields', () => {
  assert.throws(() => parseDiTConfig({ x_channel: 4, z_channel: 8, embed_dim: 16, depth: 1, num_heads: 3, input_size: 2, n_patches: 5 }),
    /n_patches 5 is not input_size\^2 = 4.*embed_dim 16 is not divisible by num_heads 3/);
  assert.throws(() => parseDiTConfig({ x_channel: 4 }), /"z_channel" must be a number/);
});
