// The README's example on a tiny FLUX-style checkpoint folder (config.json +
// diffusion_pytorch_model.safetensors, no quant convs, shift factor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, F, Generator, noGrad, saveSafetensors, setBackend } from '@reconvla/core';
import { AutoencoderKL, packLatents, parseVaeConfig, unpackLatents } from '../src/index.ts';

test('README example: fromPretrained, encode, sample, scale, pack, unpack, decode', async () => {
  setBackend(createCpuBackend());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vae-readme-'));
  try {
    const json = { _class_name: 'AutoencoderKL', block_out_channels: [8, 16], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4, use_quant_conv: false, use_post_quant_conv: false, scaling_factor: 0.3611, shift_factor: 0.1159 };
    const ref = new AutoencoderKL(parseVaeConfig(json), { generator: new Generator(0) });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json));
    await saveSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), ref.stateDict());

    const images = F.sub(F.mul(F.rand([1, 3, 16, 16], { generator: new Generator(1) }), 2), 1);
    const vae = AutoencoderKL.fromPretrained(dir);
    noGrad(() => {
      const posterior = vae.encode(images);
      const z = packLatents(vae.scaleLatents(posterior.sample({ generator: new Generator(0) })));
      assert.deepEqual(z.shape, [1, 16, 4, 4]); // [B, 4C, H/(2f), W/(2f)] with f = 2 here
      const recon = vae.decode(vae.unscaleLatents(unpackLatents(z)));
      assert.deepEqual(recon.shape, [1, 3, 16, 16]);
      assert.deepEqual(Array.from(recon.dataSync()), Array.from(ref.decode(ref.unscaleLatents(unpackLatents(z))).dataSync()));
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
