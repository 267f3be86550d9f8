// The README's example on a tiny checkpoint folder (config.json + model.safetensors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, Generator, noGrad, saveSafetensors, setBackend } from '@reconvla/core';
import { parseSiglipVisionConfig, preprocessImages, SiglipVisionModel } from '../src/index.ts';

test('README example: fromPretrained, preprocessImages, forward with hidden states', async () => {
  setBackend(createCpuBackend());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'siglip-readme-'));
  try {
    const json = { vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, image_size: 30, patch_size: 7 } };
    const ref = new SiglipVisionModel(parseSiglipVisionConfig(json), { generator: new Generator(0) });
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(json));
    await saveSafetensors(path.join(dir, 'model.safetensors'), ref.stateDict());

    const rgbBytes = Uint8Array.from({ length: 48 * 40 * 3 }, (_, i) => (i * 37) % 256);
    const tower = SiglipVisionModel.fromPretrained(dir);
    const pixels = preprocessImages([{ data: rgbBytes, width: 48, height: 40 }], { size: tower.config.imageSize });
    const { lastHiddenState, poolerOutput, hiddenStates } = noGrad(() => tower.forward(pixels, { outputHiddenStates: true }));
    assert.deepEqual(pixels.shape, [1, 3, 30, 30]);
    assert.deepEqual(lastHiddenState.shape, [1, 16, 16]);
    assert.deepEqual(poolerOutput!.shape, [1, 16]);
    assert.equal(hiddenStates!.length, 3);
    assert.deepEqual(Array.from(noGrad(() => ref.forward(pixels)).lastHiddenState.dataSync()), Array.from(lastHiddenState.dataSync()));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
