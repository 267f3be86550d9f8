// The README's example on a tiny checkpoint folder, keys under ReconVLA's "model.mm_inv_projector." prefix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, F, Generator, noGrad, saveSafetensors, setBackend, type Tensor } from '@reconvla/core';
import { parseDiTConfig, ReconDenoiser } from '../src/index.ts';

test('README example: fromPretrained, vmLoss + backward, DDIM sampling', async () => {
  setBackend(createCpuBackend());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-readme-'));
  try {
    const json = { x_channel: 16, z_channel: 12, embed_dim: 16, depth: 1, num_heads: 2, input_size: 2 };
    const ref = new ReconDenoiser(parseDiTConfig(json), { generator: new Generator(0) });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json));
    await saveSafetensors(path.join(dir, 'model.safetensors'), new Map<string, Tensor>([...ref.stateDict()].map(([k, t]) => [`model.mm_inv_projector.${k}`, t])));

    const denoiser = ReconDenoiser.fromPretrained(dir);
    const cond = F.randn([2, 4, 12], { generator: new Generator(1) }), x0 = F.randn([2, 16, 2, 2], { generator: new Generator(2) });
    const { loss } = denoiser.vmLoss({ cond, x0, generator: new Generator(0) });
    loss.backward();
    assert.ok(Number.isFinite(loss.itemSync()));
    assert.ok(denoiser.net.finalLayer.linear.weight.grad !== null);
    const latents = noGrad(() => denoiser.sample(denoiser.lnPre(cond), { generator: new Generator(0), ddimSteps: 5 }));
    assert.deepEqual(latents.shape, [2, 16, 2, 2]);
    assert.ok(Array.from(latents.dataSync()).every(Number.isFinite));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
