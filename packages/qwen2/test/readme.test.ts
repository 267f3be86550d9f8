// The README's example, line for line, on a tiny checkpoint folder written by savePretrained
// (vocabulary 151936 so the real tokenizer's ids fit; everything else tiny).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, F, Generator, setBackend } from '@reconvla/core';
import { parseQwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer } from '../src/index.ts';

test('README example: fromPretrained, tokenizer chat prompt, greedy and top-p generate, training loss, savePretrained', async () => {
  setBackend(createCpuBackend());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-readme-'));
  try {
    const cfg = parseQwen2Config({ vocab_size: 151936, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, tie_word_embeddings: true });
    await new Qwen2ForCausalLM(cfg, { generator: new Generator(0) }).savePretrained(path.join(dir, 'Qwen2-0.5B-Instruct'));

    const lm = Qwen2ForCausalLM.fromPretrained(path.join(dir, 'Qwen2-0.5B-Instruct'));
    const tok = Qwen2Tokenizer.load();
    const prompt = tok.encodeChat([{ role: 'user', content: 'Name three colours.' }]);
    const { ids } = await lm.generate([prompt], { maxNewTokens: 4, eosTokenId: tok.imEndId });
    const reply = tok.decode(ids[0]!.slice(prompt.length), { skipSpecialTokens: true });
    assert.equal(typeof reply, 'string');
    assert.ok(ids[0]!.length > prompt.length && ids[0]!.length <= prompt.length + 4);
    const sampled = await lm.generate([prompt], { maxNewTokens: 4, temperature: 0.7, topP: 0.9 });
    assert.equal(sampled.ids[0]!.length, prompt.length + 4);

    const inputIds = F.tensor(Int32Array.from(prompt), [1, prompt.length], { dtype: 'int32' });
    const attentionMask = F.onesLike(inputIds), labels = inputIds;
    const { logits, loss } = lm.forward({ inputIds, attentionMask, labels });
    loss!.backward();
    assert.deepEqual(logits.shape, [1, prompt.length, 151936]);
    assert.ok(lm.model.embed_tokens.weight.grad !== null);

    const shards = await lm.savePretrained(path.join(dir, 'mine'), { floatDtype: 'BF16', maxShardBytes: 2e9 });
    assert.equal(shards.length, 1);
    assert.ok(fs.existsSync(path.join(dir, 'mine', 'config.json')) && fs.existsSync(path.join(dir, 'mine', 'model.safetensors.index.json')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
