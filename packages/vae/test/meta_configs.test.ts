// Shape-only construction of FLUX.1's VAE (diffusers AutoencoderKL: 16 latent channels, no quant
// convs) on the meta backend: names, shapes and the parameter count, summed analytically from the
// config and compared with the published total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetaBackend } from '../../core/src/backends/meta/index.ts';
import { AutoencoderKL, parseVaeConfig, type VaeConfig } from '../src/index.ts';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'FLUX.1-vae', 'config.json');

/** AutoencoderKL's parameters from the config alone. */
function analyticCount(c: VaeConfig): number {
  const conv = (i: number, o: number, k: number): number => i * o * k * k + o;
  const norm = (ch: number): number => 2 * ch;
  const resnet = (i: number, o: number): number => norm(i) + conv(i, o, 3) + norm(o) + conv(o, o, 3) + (i !== o ? conv(i, o, 1) : 0);
  const attention = (ch: number): number => norm(ch) + 4 * (ch * ch + ch);
  const mid = (ch: number): number => 2 * resnet(ch, ch) + (c.midBlockAddAttention ? attention(ch) : 0);
  const boc = c.blockOutChannels, last = boc[boc.length - 1]!, l = c.latentChannels;
  let encoder = conv(c.inChannels, boc[0]!, 3);
  boc.forEach((ch, i) => {
    const inCh = i === 0 ? boc[0]! : boc[i - 1]!;
    for (let j = 0; j < c.layersPerBlock; j++) encoder += resnet(j === 0 ? inCh : ch, ch);
    if (i < boc.length - 1) encoder += conv(ch, ch, 3); // downsampler
  });
  encoder += mid(last) + norm(last) + conv(last, 2 * l, 3);
  const rev = [...boc].reverse();
  let decoder = conv(l, rev[0]!, 3) + mid(rev[0]!);
  rev.forEach((ch, i) => {
    const inCh = i === 0 ? rev[0]! : rev[i - 1]!;
    for (let j = 0; j < c.layersPerBlock + 1; j++) decoder += resnet(j === 0 ? inCh : ch, ch);
    if (i < rev.length - 1) decoder += conv(ch, ch, 3); // upsampler
  });
  decoder += norm(boc[0]!) + conv(boc[0]!, c.outChannels, 3);
  return encoder + decoder + (c.useQuantConv ? conv(2 * l, 2 * l, 1) : 0) + (c.usePostQuantConv ? conv(l, l, 1) : 0);
}

test('FLUX.1 VAE: meta construction, 83,819,683 parameters', () => {
  const meta = createMetaBackend();
  const cfg = parseVaeConfig(JSON.parse(fs.readFileSync(fixture, 'utf8')));
  assert.deepEqual([cfg.latentChannels, cfg.scalingFactor, cfg.shiftFactor, cfg.useQuantConv, cfg.usePostQuantConv], [16, 0.3611, 0.1159, false, false]);
  const vae = new AutoencoderKL(cfg, { backend: meta });
  assert.equal(vae.downsampleFactor, 8);
  const sd = vae.stateDict();
  assert.deepEqual(sd.get('encoder.conv_out.weight')?.shape, [32, 512, 3, 3]);
  assert.deepEqual(sd.get('decoder.conv_in.weight')?.shape, [512, 16, 3, 3]);
  assert.deepEqual(sd.get('encoder.down_blocks.1.resnets.0.conv_shortcut.weight')?.shape, [256, 128, 1, 1]);
  assert.deepEqual(sd.get('decoder.up_blocks.3.resnets.2.conv2.weight')?.shape, [128, 128, 3, 3]);
  assert.deepEqual(sd.get('decoder.mid_block.attentions.0.to_out.0.weight')?.shape, [512, 512]);
  assert.ok(!sd.has('quant_conv.weight') && !sd.has('post_quant_conv.weight'));
  const total = vae.parameters().reduce((s, p) => s + p.size, 0);
  assert.equal(analyticCount(cfg), 83_819_683, 'analytic count vs published');
  assert.equal(total, 83_819_683, 'model count vs published');
  // SD's VAE layout (4 latent channels, with quant convs) counts 83,653,863: the same code path with the other flags.
  const sd15 = { ...cfg, latentChannels: 4, useQuantConv: true, usePostQuantConv: true };
  const sdVae = new AutoencoderKL(sd15, { backend: meta });
  assert.equal(sdVae.parameters().reduce((s, p) => s + p.size, 0), analyticCount(sd15));
  assert.equal(analyticCount(sd15), 83_653_863);
  vae.dispose(); sdVae.dispose();
  assert.equal(meta.memory().liveStorages, 0);
});
