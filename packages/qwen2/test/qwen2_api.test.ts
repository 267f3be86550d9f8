// Qwen2 beyond the golden numbers: config errors, untied lm_head, inputsEmbeds, top-p sampling,
// and fromPretrained from a single F32 file and from BF16 shards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, F, Generator, noGrad, tidy, type Tensor } from '@reconvla/core';
import { writeSafetensors, writeShardedCheckpoint, type TensorsToWrite } from '../../core/src/safetensors/index.ts';
import { parseQwen2Config, Qwen2ForCausalLM, sampleTopP } from '../src/index.ts';

const backend = createCpuBackend();
const tiny = { vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: false };

test('config: defaults, unknown and contradictory fields named together', () => {
  const c = parseQwen2Config({ ...tiny });
  assert.equal(c.headDim, 4);
  assert.equal(c.ropeTheta, 10000);
  assert.throws(() => parseQwen2Config({ ...tiny, num_key_value_heads: 3, rope_scaling: { type: 'yarn' }, foo: 1 }),
    /unknown fields "foo".*rope_scaling.*num_attention_heads 4 is not a multiple of num_key_value_heads 3/);
});

test('untied lm_head is its own parameter; tied has no lm_head.weight', () => {
  tidy(() => {
    assert.ok(new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend }).stateDict().has('lm_head.weight'));
    assert.ok(!new Qwen2ForCausalLM(parseQwen2Config({ ...tiny, tie_word_embeddings: true }), { backend }).stateDict().has('lm_head.weight'));
  });
});

test('inputsEmbeds gives the same logits as inputIds', () => {
  tidy(() => noGrad(() => {
    const m = new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend, generator: new Generator(1) });
    const ids = F.tensor(Int32Array.from([1, 5, 7, 2]), [1, 4], { backend, dtype: 'int32' });
    const a = m.forward({ inputIds: ids }).logits.dataSync();
    const b = m.forward({ inputsEmbeds: F.embedding(ids, m.model.embed_tokens.weight) }).logits.dataSync();
    assert.deepEqual(Array.from(a), Array.from(b));
  }));
});

test('top-p keeps the nucleus; sampling is reproducible from the generator', async () => {
  const row = [0, Math.log(6), Math.log(3), Math.log(1)]; // probabilities 0.0909.., 0.545, 0.27, 0.09
  for (let u = 0; u < 1; u += 0.05) assert.ok([1, 2].includes(sampleTopP(row, 1, 0.8, u)));
  assert.equal(sampleTopP(row, 1, 0.5, 0.99), 1);
  const m = tidy(() => new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend, generator: new Generator(2) }));
  const a = await m.generate([[1, 2, 3]], { maxNewTokens: 5, temperature: 0.8, topP: 0.9, generator: new Generator(7) });
  const b = await m.generate([[1, 2, 3]], { maxNewTokens: 5, temperature: 0.8, topP: 0.9, generator: new Generator(7) });
  assert.deepEqual(a.ids, b.ids);
  assert.equal(a.ids[0]!.length, 8);
});

function toWrite(sd: Map<string, Tensor>, dtype: 'F32' | 'BF16'): TensorsToWrite {
  const out: TensorsToWrite = {};
  for (const [k, t] of sd) out[k] = { dtype, shape: t.shape, data: t.dataSync() as Float32Array };
  return out;
}

test('fromPretrained: single F32 file and BF16 shards', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-'));
  try {
    tidy(() => {
      const m = new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend, generator: new Generator(3) });
      const sd = m.stateDict();
      const single = path.join(dir, 'single'), sharded = path.join(dir, 'sharded');
      for (const d of [single, sharded]) { fs.mkdirSync(d); fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...tiny, model_type: 'qwen2' })); }
      writeSafetensors(path.join(single, 'model.safetensors'), toWrite(sd, 'F32'));
      writeShardedCheckpoint(sharded, toWrite(sd, 'BF16'), { maxShardBytes: 2048 });
      const a = Qwen2ForCausalLM.fromPretrained(single, { backend });
      const b = Qwen2ForCausalLM.fromPretrained(sharded, { backend });
      for (const [k, t] of sd) {
        const ref = t.dataSync();
        assert.deepEqual(Array.from(a.stateDict().get(k)!.dataSync()), Array.from(ref), k);
        const got = b.stateDict().get(k)!.dataSync();
        ref.forEach((v, i) => assert.ok(Math.abs(got[i]! - v) <= Math.abs(v) * 2 ** -8, `${k}[${i}]: bf16 ${got[i]} vs ${v}`));
      }
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('left padding: real positions match the unpadded row, padded queries stay finite', () => {
  tidy(() => noGrad(() => {
    const m = new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend, generator: new Generator(4) });
    const ids = F.tensor(Int32Array.from([0, 0, 3, 4, 5]), [1, 5], { backend, dtype: 'int32' });
    const mask = F.tensor(Int32Array.from([0, 0, 1, 1, 1]), [1, 5], { backend, dtype: 'int32' });
    const pos = F.tensor(Int32Array.from([0, 0, 0, 1, 2]), [1, 5], { backend, dtype: 'int32' });
    const padded = m.forward({ inputIds: ids, attentionMask: mask, positionIds: pos }).logits.dataSync();
    assert.ok(Array.from(padded).every(Number.isFinite));
    const plain = m.forward({ inputIds: F.tensor(Int32Array.from([3, 4, 5]), [1, 3], { backend, dtype: 'int32' }) }).logits.dataSync();
    const v = tiny.vocab_size;
    plain.forEach((x, i) => assert.ok(Math.abs(padded[2 * v + i]! - x) <= 1e-5 * (1 + Math.abs(x)), `logit ${i}`));
  }));
});
