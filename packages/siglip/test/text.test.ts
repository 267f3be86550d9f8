// The SigLIP text tower: Hugging Face names and shapes (so400m's text_config on the meta
// backend), config checks, the pooled output (last position through the head, full attention),
// and the transformers initialisation of every text parameter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCpuBackend, F, Generator, noGrad, tidy } from '@reconvla/core';
import { createMetaBackend } from '../../core/src/backends/meta/index.ts';
import { initSiglipWeights, parseSiglipTextConfig, SiglipTextModel } from '../src/index.ts';

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'siglip-so400m-patch14-384', 'config.json');
const backend = createCpuBackend();

test('so400m text tower: HF names and shapes from the full SiglipConfig (meta backend)', () => {
  const meta = createMetaBackend();
  const cfg = parseSiglipTextConfig(JSON.parse(fs.readFileSync(fixture, 'utf8')));
  assert.deepEqual([cfg.vocabSize, cfg.hiddenSize, cfg.numHiddenLayers, cfg.maxPositionEmbeddings, cfg.projectionSize], [32000, 1152, 27, 64, 1152]);
  const model = new SiglipTextModel(cfg, { backend: meta });
  const sd = model.stateDict();
  assert.deepEqual(sd.get('text_model.embeddings.token_embedding.weight')?.shape, [32000, 1152]);
  assert.deepEqual(sd.get('text_model.embeddings.position_embedding.weight')?.shape, [64, 1152]);
  assert.deepEqual(sd.get('text_model.encoder.layers.26.self_attn.q_proj.weight')?.shape, [1152, 1152]);
  assert.deepEqual(sd.get('text_model.encoder.layers.26.mlp.fc1.weight')?.shape, [4304, 1152]);
  assert.deepEqual(sd.get('text_model.final_layer_norm.weight')?.shape, [1152]);
  assert.deepEqual(sd.get('text_model.head.weight')?.shape, [1152, 1152]);
  assert.deepEqual(sd.get('text_model.head.bias')?.shape, [1152]);
  assert.equal(sd.size, 2 + 27 * 16 + 2 + 2);
  model.dispose();
  assert.equal(meta.memory().liveStorages, 0);
});

test('text config: defaults, projection_size, and named problems', () => {
  const c = parseSiglipTextConfig({ vocab_size: 50, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 12, projection_size: 4, pad_token_id: 0 });
  assert.deepEqual([c.projectionSize, c.padTokenId, c.layerNormEps], [4, 0, 1e-6]);
  assert.throws(() => parseSiglipTextConfig({ hidden_size: 10, num_attention_heads: 4 }), /not divisible/);
  assert.throws(() => parseSiglipTextConfig({ vocab_size: 5, pad_token_id: 7 }), /pad_token_id 7 outside the 5 ids/);
  assert.throws(() => parseSiglipTextConfig({ hiden_size: 8 }), /unknown fields "hiden_size"/);
  assert.throws(() => parseSiglipTextConfig({ hidden_act: 'relu' }), /hidden_act "relu"/);
});

const tiny = parseSiglipTextConfig({ vocab_size: 20, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 6, projection_size: 4, pad_token_id: 0 });

test('pooled output = head(final_layer_norm(h)[:, -1]); every position reaches it (no causal mask)', () => {
  tidy(() => noGrad(() => {
    const model = new SiglipTextModel(tiny, { backend, generator: new Generator(0) });
    initSiglipWeights(model, new Generator(1));
    const ids = F.tensor([[3, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]], [2, 6], { backend, dtype: 'int32' });
    const out = model.forward(ids);
    assert.deepEqual(out.lastHiddenState.shape, [2, 6, 8]);
    assert.deepEqual(out.poolerOutput.shape, [2, 4]);
    const last = F.reshape(F.slice(out.lastHiddenState, 1, 5, 6), [2, 8]);
    assert.deepEqual(Array.from(model.text_model.head.forward(last).dataSync()), Array.from(out.poolerOutput.dataSync()));
    // The first token changes the last position's output: attention is bidirectional.
    const other = model.forward(F.tensor([[9, 4, 5, 0, 0, 0], [7, 0, 0, 0, 0, 0]], [2, 6], { backend, dtype: 'int32' })).poolerOutput.dataSync();
    const base = out.poolerOutput.dataSync();
    assert.ok(Math.max(...Array.from({ length: 4 }, (_, k) => Math.abs(other[k]! - base[k]!))) > 1e-4, 'row 0 changed');
    assert.deepEqual(Array.from(other.slice(4)), Array.from(base.slice(4)), 'row 1 did not');
    assert.throws(() => model.forward(F.tensor(new Int32Array(14), [2, 7], { backend, dtype: 'int32' })), /7 tokens, the model takes 1..6/);
    assert.throws(() => model.forward(F.tensor(new Float32Array(12), [2, 6], { backend })), /int32/);
    model.dispose();
  }));
});

test('initSiglipWeights covers every text parameter as transformers does', () => {
  const wide = parseSiglipTextConfig({ vocab_size: 400, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, max_position_embeddings: 64, projection_size: 64, pad_token_id: 0 });
  tidy(() => noGrad(() => {
    const model = new SiglipTextModel(wide, { backend, generator: new Generator(0) });
    initSiglipWeights(model, new Generator(1), 'text_model.');
    const std = (key: string): number => {
      const d = Array.from(model.stateDict().get(key)!.dataSync());
      const m = d.reduce((s, v) => s + v, 0) / d.length;
      return Math.sqrt(d.reduce((s, v) => s + (v - m) ** 2, 0) / d.length);
    };
    const near = (got: number, want: number, what: string): void => assert.ok(Math.abs(got / want - 1) < 0.1, `${what}: std ${got}, want ${want}`);
    near(std('text_model.embeddings.token_embedding.weight'), 1 / 8, 'token embedding N(0, 1/width)');
    near(std('text_model.embeddings.position_embedding.weight'), 1 / 8, 'position embedding N(0, 1/width)');
    near(std('text_model.encoder.layers.0.self_attn.q_proj.weight'), Math.sqrt(2 / 128), 'xavier q_proj');
    near(std('text_model.head.weight'), 1 / 8, 'lecun-normal head');
    const sd = model.stateDict();
    assert.ok(sd.get('text_model.head.bias')!.dataSync().every((v) => v === 0));
    assert.ok(sd.get('text_model.final_layer_norm.weight')!.dataSync().every((v) => v === 1));
    assert.ok(sd.get('text_model.final_layer_norm.bias')!.dataSync().every((v) => v === 0));
    assert.ok(sd.get('text_model.encoder.layers.0.mlp.fc1.bias')!.dataSync().every((v) => Math.abs(v) < 1e-5));
    model.dispose();
  }));
});
