// savePretrained -> fromPretrained: config.json and BF16 shards round trip exactly (to BF16),
// a tied model writes no lm_head, and a wrong checkpoint is refused by name before any read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bf16BitsToF32, createCpuBackend, f32ToBf16Bits, Generator, openCheckpoint, tidy } from '@reconvla/core';
import { parseQwen2Config, Qwen2ForCausalLM } from '../src/index.ts';

const backend = createCpuBackend();
const tiny = { vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true, rope_theta: 1e6 };

test('savePretrained (BF16 shards) -> fromPretrained: every weight is its BF16 rounding, config survives', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-save-'));
  try {
    const m = new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend, generator: new Generator(5) });
    const shards = await m.savePretrained(dir, { maxShardBytes: 4096 });
    assert.ok(shards.length > 1, `${shards.length} shards`);
    const ckpt = openCheckpoint(dir);
    assert.ok(ckpt.names().every((n) => ckpt.info(n).dtype === 'BF16'));
    assert.ok(!ckpt.names().includes('lm_head.weight'));
    ckpt.close();
    const back = Qwen2ForCausalLM.fromPretrained(dir, { backend });
    assert.deepEqual(back.config, m.config);
    const got = back.stateDict();
    for (const [k, t] of m.stateDict()) {
      const want = Array.from(t.dataSync(), (x) => bf16BitsToF32(f32ToBf16Bits(x)));
      assert.deepEqual(Array.from(got.get(k)!.dataSync()), want, k);
    }
    m.dispose(); back.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fromPretrained names missing, unexpected and mis-shaped keys', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-bad-'));
  try {
    const m = new Qwen2ForCausalLM(parseQwen2Config({ ...tiny, num_hidden_layers: 1 }), { backend, generator: new Generator(6) });
    await m.savePretrained(dir, { floatDtype: 'F32' });
    m.dispose();
    // Same file, a config asking for 2 layers and a wider MLP.
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...tiny, intermediate_size: 32 }));
    assert.throws(() => tidy(() => Qwen2ForCausalLM.fromPretrained(dir, { backend })),
      /fromPretrained: missing keys: model\.layers\.1\..*mis-shaped: .*model\.layers\.0\.mlp\.gate_proj\.weight: checkpoint \[24, 16\], model \[32, 16\]/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
