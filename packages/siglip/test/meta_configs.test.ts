// Shape-only construction of siglip-so400m-patch14-384's vision tower (from the full SiglipConfig
// with text_config and vision_config) on the meta backend: names, shapes and the parameter count,
// summed analytically and compared with the published total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMetaBackend } from '../../core/src/backends/meta/index.ts';
import { numPatches, parseSiglipVisionConfig, SiglipVisionModel, type SiglipVisionConfig } from '../src/index.ts';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'siglip-so400m-patch14-384', 'config.json');

/** SiglipVisionModel's parameters from the config alone. */
function analyticCount(c: SiglipVisionConfig): number {
  const d = c.hiddenSize, i = c.intermediateSize;
  const linear = (a: number, b: number): number => a * b + b;
  const layerNorm = 2 * d;
  const mlp = linear(d, i) + linear(i, d);
  const embeddings = c.numChannels * c.patchSize * c.patchSize * d + d + numPatches(c) * d;
  const layer = layerNorm + 4 * linear(d, d) + layerNorm + mlp;
  // Attention-pooling head: probe, packed in_proj (3d x d + 3d), out_proj, layernorm, mlp.
  const head = d + 3 * d * d + 3 * d + linear(d, d) + layerNorm + mlp;
  return embeddings + c.numHiddenLayers * layer + layerNorm + (c.visionUseHead ? head : 0);
}

test('siglip-so400m-patch14-384 vision tower: meta construction, 428,225,600 parameters with the head', () => {
  const meta = createMetaBackend();
  const cfg = parseSiglipVisionConfig(JSON.parse(fs.readFileSync(fixture, 'utf8')));
  assert.deepEqual([cfg.hiddenSize, cfg.intermediateSize, cfg.numHiddenLayers, cfg.numAttentionHeads, cfg.imageSize, cfg.patchSize], [1152, 4304, 27, 16, 384, 14]);
  const model = new SiglipVisionModel(cfg, { backend: meta });
  const sd = model.stateDict();
  assert.deepEqual(sd.get('vision_model.embeddings.patch_embedding.weight')?.shape, [1152, 3, 14, 14]);
  assert.deepEqual(sd.get('vision_model.embeddings.position_embedding.weight')?.shape, [729, 1152]);
  assert.deepEqual(sd.get('vision_model.encoder.layers.26.mlp.fc1.weight')?.shape, [4304, 1152]);
  assert.deepEqual(sd.get('vision_model.head.attention.in_proj_weight')?.shape, [3456, 1152]);
  assert.deepEqual(sd.get('vision_model.head.probe')?.shape, [1, 1, 1152]);
  const total = model.parameters().reduce((s, p) => s + p.size, 0);
  assert.equal(analyticCount(cfg), 428_225_600, 'analytic count vs published');
  assert.equal(total, 428_225_600, 'model count vs published');
  // Without the head (what LLaVA-style towers use): the head's share.
  const headless = analyticCount({ ...cfg, visionUseHead: false });
  assert.equal(total - headless, [...sd].filter(([k]) => k.startsWith('vision_model.head.')).reduce((s, [, t]) => s + t.size, 0));
  model.dispose();
  assert.equal(meta.memory().liveStorages, 0);
});

test('image_size not a multiple of patch_size: the conv drops the remainder (so400m: 384 -> 27 x 27)', async () => {
  const { createCpuBackend, F, Generator, noGrad, tidy } = await import('@reconvla/core');
  const backend = createCpuBackend();
  const cfg = parseSiglipVisionConfig({ hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, image_size: 30, patch_size: 7 });
  assert.equal(numPatches(cfg), 16);
  tidy(() => noGrad(() => {
    const model = new SiglipVisionModel(cfg, { backend, generator: new Generator(0) });
    const out = model.forward(F.randn([2, 3, 30, 30], { backend, generator: new Generator(1) }));
    assert.deepEqual(out.lastHiddenState.shape, [2, 16, 8]);
    assert.deepEqual(out.poolerOutput?.shape, [2, 8]);
  }));
});
