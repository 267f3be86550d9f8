// loadCheckpointInto's report and Qwen2ForCausalLM.fromPretrained's tied head: a checkpoint that
// stores lm_head.weight while tie_word_embeddings is true loads when the copy equals the
// embedding (as transformers) and is refused naming the largest difference when it does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, Generator, openCheckpoint, writeSafetensors, type TensorsToWrite } from '@reconvla/core';
import { formatLoadReport, loadCheckpointInto, parseQwen2Config, Qwen2ForCausalLM } from '../src/index.ts';

const backend = createCpuBackend();
const tiny = { vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true, rope_theta: 1e6, max_position_embeddings: 64, rms_norm_eps: 1e-6 };

function folderWithHead(headDelta: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2-tied-'));
  const m = new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend, generator: new Generator(2) });
  const t: TensorsToWrite = {};
  for (const [k, v] of m.stateDict()) t[k] = { dtype: 'F32', shape: v.shape, data: Float32Array.from(v.dataSync()) };
  const head = Float32Array.from(t['model.embed_tokens.weight']!.data as Float32Array);
  head[7 * 16 + 2]! += headDelta;
  t['lm_head.weight'] = { dtype: 'F32', shape: [40, 16], data: head };
  writeSafetensors(path.join(dir, 'model.safetensors'), t, { format: 'pt' });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tiny));
  m.dispose();
  return dir;
}

test('fromPretrained: a tied lm_head.weight equal to the embedding loads; a different one is an error naming the difference', () => {
  const same = folderWithHead(0);
  const m = Qwen2ForCausalLM.fromPretrained(same, { backend });
  assert.equal(m.lm_head, null, 'still tied: no separate head');
  const model = new Qwen2ForCausalLM(parseQwen2Config(tiny), { backend });
  const ck = openCheckpoint(same);
  const report = loadCheckpointInto(model, ck, backend);
  ck.close();
  assert.deepEqual(report.ignored, [{ name: 'lm_head.weight', reason: 'equal to model.embed_tokens.weight (tie_word_embeddings)' }]);
  assert.equal(report.loaded, model.stateDict().size);
  assert.deepEqual(formatLoadReport(report), [`checkpoint: ${report.loaded} tensors loaded`, '  ignored (equal to model.embed_tokens.weight (tie_word_embeddings)): lm_head.weight']);
  const diff = folderWithHead(-0.5);
  assert.throws(() => Qwen2ForCausalLM.fromPretrained(diff, { backend }),
    /^Error: Qwen2ForCausalLM\.fromPretrained: lm_head\.weight differs from model\.embed_tokens\.weight by up to 0\.5 \(at \[7, 2\]\) but the config ties them \(tie_word_embeddings: true\)/);
  fs.rmSync(same, { recursive: true }); fs.rmSync(diff, { recursive: true });
});
