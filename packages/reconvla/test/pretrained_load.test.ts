// Loading a model folder explains itself: the report names what was loaded, freshly initialised
// (a folder without the VAE decoder, as upstream's), ignored (a tied lm_head equal to the
// embedding) and converted (BF16 -> float32); strict refuses missing and unexpected tensors by
// name, errors name loadPretrained; config.json carries upstream's keys and the word ids, and
// an old folder without them still loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, encodeBf16, Generator, openCheckpoint, writeSafetensors, type TensorsToWrite } from '@reconvla/core';
import {
  decoderWasInitialised, FIRST_WORD_ID, loadPretrained, loadPretrainedWithReport, parseReconVLAConfig, ReconVLA, savePretrained, VAE_DECODER_PREFIX, WordTokenizer,
} from '../src/index.ts';
import { testModelJson } from './synthetic.ts';

const backend = createCpuBackend();
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-load-'));

async function savedFolder(): Promise<{ dir: string; model: ReconVLA }> {
  const dir = tmp();
  const model = new ReconVLA(parseReconVLAConfig(testModelJson()), { backend, generator: new Generator(11) });
  await savePretrained(model, dir);
  return { dir, model };
}

/** Rewrites dir/model.safetensors through edit (tensors read as F32 unless edit changes them). */
function rewrite(dir: string, edit: (t: TensorsToWrite) => void): void {
  const file = path.join(dir, 'model.safetensors');
  const ck = openCheckpoint(file);
  const t: TensorsToWrite = {};
  for (const n of ck.names()) {
    const info = ck.info(n);
    t[n] = info.dtype === 'I32' ? { dtype: 'I32', shape: info.shape, data: ck.readInt32(n) } : { dtype: 'F32', shape: info.shape, data: ck.readFloat32(n) };
  }
  ck.close();
  edit(t);
  writeSafetensors(file, t, { format: 'pt' });
}

function sameWeights(a: ReconVLA, b: ReconVLA, skip: (k: string) => boolean = () => false): void {
  const sb = b.stateDict();
  for (const [k, t] of a.stateDict()) if (!skip(k)) assert.deepEqual(Array.from(sb.get(k)!.dataSync()), Array.from(t.dataSync()), k);
}

test('a saved folder loads whole: every tensor loaded, nothing initialised, ignored or converted', async () => {
  const { dir, model } = await savedFolder();
  const { model: back, report } = loadPretrainedWithReport(dir, { backend });
  assert.equal(report.loaded, model.stateDict().size);
  assert.deepEqual([report.initialised, report.ignored, report.converted, report.missing, report.unexpected], [[], [], [], [], []]);
  assert.equal(decoderWasInitialised(report), false);
  sameWeights(model, back);
  fs.rmSync(dir, { recursive: true });
});

test('a folder without the VAE decoder (upstream\'s layout) loads, and the report and the log say the decoder is fresh', async () => {
  const { dir, model } = await savedFolder();
  let dropped = 0;
  rewrite(dir, (t) => { for (const k of Object.keys(t)) if (k.startsWith(VAE_DECODER_PREFIX)) { delete t[k]; dropped++; } });
  assert.ok(dropped > 10, `${dropped} decoder tensors`);
  const lines: string[] = [];
  const { model: back, report } = loadPretrainedWithReport(dir, { backend, log: (l) => lines.push(l) });
  assert.equal(decoderWasInitialised(report), true);
  assert.equal(report.initialised.length, dropped);
  assert.ok(report.initialised.every((e) => e.name.startsWith(VAE_DECODER_PREFIX) && /no VAE decoder/.test(e.reason)));
  assert.equal(report.loaded, model.stateDict().size - dropped);
  const logged = lines.join('\n');
  assert.match(logged, new RegExp(`freshly initialised \\(the checkpoint has no VAE decoder.*\\): ${VAE_DECODER_PREFIX.replace(/\./g, '\\.')}\\* \\(${dropped} tensors`));
  sameWeights(model, back, (k) => k.startsWith(VAE_DECODER_PREFIX));
  fs.rmSync(dir, { recursive: true });
});

test('strict (default) names missing and unexpected tensors and the real function; strict: false reports them', async () => {
  const { dir } = await savedFolder();
  const gone = 'model.mm_projector.0.bias';
  rewrite(dir, (t) => {
    delete t[gone];
    t['model.extra.weight'] = { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) };
  });
  assert.throws(() => loadPretrained(dir, { backend }), (e: Error) => {
    assert.match(e.message, new RegExp(`^loadPretrained\\(${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): missing keys: model\\.mm_projector\\.0\\.bias; unexpected keys: model\\.extra\\.weight$`));
    assert.doesNotMatch(e.message, /fromPretrained/);
    return true;
  });
  const { report } = loadPretrainedWithReport(dir, { backend, strict: false });
  assert.deepEqual(report.initialised, [{ name: gone, reason: 'not in the checkpoint (strict: false)' }]);
  assert.deepEqual(report.ignored, [{ name: 'model.extra.weight', reason: 'no such tensor in the model (strict: false)' }]);
  fs.rmSync(dir, { recursive: true });
});

test('a tied model\'s lm_head.weight loads when it equals the embedding, and is refused naming the difference when not', async () => {
  const { dir } = await savedFolder();
  assert.equal(parseReconVLAConfig(testModelJson()).llm.tieWordEmbeddings, true);
  const embed = 'model.embed_tokens.weight';
  rewrite(dir, (t) => { t['lm_head.weight'] = { ...t[embed]!, data: Float32Array.from(t[embed]!.data as Float32Array) }; });
  const { report } = loadPretrainedWithReport(dir, { backend });
  assert.deepEqual(report.ignored, [{ name: 'lm_head.weight', reason: `equal to ${embed} (tie_word_embeddings)` }]);
  rewrite(dir, (t) => { const d = t['lm_head.weight']!.data as Float32Array; d[3 * t[embed]!.shape[1]! + 5]! += 0.25; });
  assert.throws(() => loadPretrained(dir, { backend }), /^Error: loadPretrained\(.*\): lm_head\.weight differs from model\.embed_tokens\.weight by up to 0\.25\d* \(at \[3, 5\]\) but the config ties them/);
  fs.rmSync(dir, { recursive: true });
});

test('a BF16 checkpoint is reported as converted to float32', async () => {
  const { dir, model } = await savedFolder();
  rewrite(dir, (t) => { for (const [k, v] of Object.entries(t)) if (v.dtype === 'F32') t[k] = { dtype: 'BF16', shape: v.shape, data: encodeBf16(v.data as Float32Array) }; });
  const { report } = loadPretrainedWithReport(dir, { backend });
  assert.equal(report.converted.length, model.stateDict().size);
  assert.deepEqual(new Set(report.converted.map((c) => `${c.from} -> ${c.to}`)), new Set(['BF16 -> float32']));
  fs.rmSync(dir, { recursive: true });
});

test('config.json carries upstream\'s keys, ours, and the word ids; the folder alone maps words to ids', async () => {
  const { dir, model } = await savedFolder();
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const upstream = {
    use_mm_proj: true, mm_projector_type: 'mlp2x_gelu', mm_hidden_size: 48, mm_vision_select_layer: -2, mm_vision_select_feature: 'patch', mm_patch_merge_type: 'flat',
    image_aspect_ratio: 'square', mm_use_im_start_end: false, mm_use_im_patch_token: false, recon_enable: true, use_mm_inv_proj: true, mm_inv_hidden_size: 16,
    mm_inv_projector_type: 'denoiser_vit2x', image_embed_len: 16, decode_image_size: 16, tokenizer_padding_side: 'right', tokenizer_model_max_length: 256,
    tune_mm_mlp_adapter: false, freeze_mm_mlp_adapter: false, unfreeze_mm_vision_tower: false, mm_projector_lr: null, mm_vision_tower_lr: null,
  };
  for (const [k, v] of Object.entries(upstream)) assert.deepEqual(json[k], v, k);
  // Ours stay, in addition.
  for (const k of ['vision_config', 'vae_config', 'denoiser_config', 'action_tokenizer', 'prompt', 'ablation', 'state_range', 'image_views']) assert.ok(k in json, k);
  const wt = json.word_tokenizer as { words: string[]; first_word_id: number; unk_token_id: number; special_ids: Record<string, number> };
  assert.deepEqual(wt.special_ids, { pad: 0, end: 1, unk: 2, assistant: 3, colon: 4 });
  assert.equal(wt.first_word_id, FIRST_WORD_ID);
  // From the file alone: word i -> first_word_id + i, anything else -> unk_token_id.
  const fromFile = (w: string): number => (wt.words.includes(w) ? wt.first_word_id + wt.words.indexOf(w) : wt.unk_token_id);
  const tok = new WordTokenizer(model.config.words!);
  assert.deepEqual('open the drawer now'.split(' ').map(fromFile), tok.encode('open the drawer now'));
  assert.equal(fromFile('now'), 2);
  // Saving what was loaded writes the same file.
  const again = tmp();
  await savePretrained(loadPretrained(dir, { backend }), again);
  assert.equal(fs.readFileSync(path.join(again, 'config.json'), 'utf8'), fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  fs.rmSync(dir, { recursive: true }); fs.rmSync(again, { recursive: true });
});

test('an old folder (config.json without upstream keys or word ids) loads with the defaults; other word ids are refused', async () => {
  const { dir, model } = await savedFolder();
  const old = testModelJson(); // what savePretrained wrote before: tinyConfigJson as is
  assert.equal('mm_inv_hidden_size' in old, false);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(old));
  const back = loadPretrained(dir, { backend });
  sameWeights(model, back);
  assert.deepEqual(back.config.words, model.config.words);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...old, word_tokenizer: { ...(old.word_tokenizer as object), first_word_id: 7 } }));
  assert.throws(() => loadPretrained(dir, { backend }), /config\.json: word_tokenizer\.first_word_id 7 \(this code gives words ids from 5\)/);
  fs.rmSync(dir, { recursive: true });
});
