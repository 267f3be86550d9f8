// Shape-only construction of the real Qwen2-0.5B and Qwen2-7B configs on the meta backend (7B in
// float32 would need 30 GB): parameter names, shapes and counts, checked against a count summed
// analytically from the architecture and against the published totals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { F, tidy } from '@reconvla/core';
import { createMetaBackend } from '../../core/src/backends/meta/index.ts';
import { parseQwen2Config, Qwen2ForCausalLM, type Qwen2Config } from '../src/index.ts';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const load = (name: string): Qwen2Config => parseQwen2Config(JSON.parse(fs.readFileSync(path.join(fixtures, name, 'config.json'), 'utf8')));

/** Qwen2ForCausalLM's parameters from the config alone: q/k/v with biases, o and the SwiGLU without, two norms per layer. */
function analyticCount(c: Qwen2Config): number {
  const d = c.hiddenSize, q = c.numAttentionHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim;
  const attention = (d * q + q) + 2 * (d * kv + kv) + q * d;
  const mlp = 3 * d * c.intermediateSize;
  const layer = attention + mlp + 2 * d;
  const embed = c.vocabSize * d;
  return embed + c.numHiddenLayers * layer + d + (c.tieWordEmbeddings ? 0 : embed);
}

const count = (m: Qwen2ForCausalLM): number => m.parameters().reduce((s, p) => s + p.size, 0);

const cases = [
  { name: 'Qwen2-0.5B', published: 494_032_768, tied: true, shapes: { 'model.embed_tokens.weight': [151936, 896], 'model.layers.23.self_attn.k_proj.weight': [128, 896], 'model.layers.0.self_attn.q_proj.bias': [896], 'model.layers.0.mlp.down_proj.weight': [896, 4864] } },
  { name: 'Qwen2-7B', published: 7_615_616_512, tied: false, shapes: { 'lm_head.weight': [152064, 3584], 'model.layers.27.self_attn.v_proj.weight': [512, 3584], 'model.layers.0.mlp.gate_proj.weight': [18944, 3584] } },
];

for (const c of cases) {
  test(`${c.name}: meta construction, ${c.published.toLocaleString('en-US')} parameters`, () => {
    const meta = createMetaBackend();
    const cfg = load(c.name);
    const rssBefore = process.memoryUsage().rss;
    const model = new Qwen2ForCausalLM(cfg, { backend: meta });
    const grown = process.memoryUsage().rss - rssBefore;
    const sd = model.stateDict();
    assert.equal(sd.has('lm_head.weight'), !c.tied);
    for (const [k, shape] of Object.entries(c.shapes)) assert.deepEqual(sd.get(k)?.shape, shape, k);
    assert.equal(analyticCount(cfg), c.published, 'analytic count vs published');
    assert.equal(count(model), c.published, 'model count vs published');
    assert.equal(meta.memory().liveBytes, 4 * c.published); // what float32 weights would take; none allocated
    assert.ok(grown < 256 * 2 ** 20, `building on meta grew RSS by ${(grown / 2 ** 20).toFixed(0)} MiB`);
    // Running it names the first kernel it needed.
    tidy(() => assert.throws(() => model.forward({ inputIds: F.tensor(Int32Array.from([1, 2]), [1, 2], { backend: meta }) }), /meta tensors have no data: indexSelect/));
    model.dispose();
    assert.equal(meta.memory().liveStorages, 0);
  });
}
