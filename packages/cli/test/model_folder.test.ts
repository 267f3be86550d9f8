// Exported model folders and batch files without PyTorch: a round trip through one file and
// through shards, and the errors a bad folder or batch file gets (each names the file, the
// tensor and what is wrong).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createBackend, Generator, SafetensorsFile, writeSafetensors, type TensorsToWrite } from '@reconvla/core';
import { initFromScratch, loadModelFolder, parseReconVLAConfig, parseShardSize, Processor, ReconVLA, writeModelFolder } from '@reconvla/reconvla';
import { testModelJson } from '../../reconvla/test/synthetic.ts';
import { optionsFromFlags, type EvalFlags } from '../src/eval_command.ts';
import { batchLosses, readBatch } from '../src/loss_command.ts';
import { Fixture, findFixtures, goldenDir, skipOrFail } from '../../../test/helpers/golden.ts';

const backend = await createBackend('cpu');
const dir = mkdtempSync(path.join(tmpdir(), 'model-folder-'));
const gen = new Generator(4);
const model = new ReconVLA(parseReconVLAConfig(testModelJson()), { backend, generator: gen });
initFromScratch(model, gen);

async function same(a: ReconVLA, b: ReconVLA): Promise<void> {
  const sa = a.stateDict(), sb = b.stateDict();
  assert.deepEqual([...sa.keys()], [...sb.keys()]);
  for (const [k, t] of sa) assert.deepEqual(await sb.get(k)!.data(), await t.data(), k);
}

/** A copy of folder `from` whose weights are `edit`ed (tensors as the writer takes them). */
function editedFolder(from: string, name: string, edit: (t: TensorsToWrite) => void): string {
  const to = path.join(dir, name);
  mkdirSync(to, { recursive: true });
  for (const f of ['config.json', 'vocab.json']) copyFileSync(path.join(from, f), path.join(to, f));
  const src = SafetensorsFile.open(path.join(from, 'model.safetensors'));
  const t: TensorsToWrite = {};
  for (const n of src.names()) t[n] = { dtype: 'F32', shape: src.info(n).shape, data: src.readFloat32(n) };
  src.close();
  edit(t);
  writeSafetensors(path.join(to, 'model.safetensors'), t);
  return to;
}

test('a folder round trip: one file, and shards with Hugging Face\'s index', async () => {
  const one = (await writeModelFolder(model, path.join(dir, 'one'))).dir;
  await same(loadModelFolder(one, backend), model);
  const w = await writeModelFolder(model, path.join(dir, 'sharded'), { maxShardBytes: 300_000 });
  assert.ok(w.sharded && w.files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length >= 2, w.files.join(', '));
  await same(loadModelFolder(w.dir, backend), model);
  await assert.rejects(writeModelFolder(model, one), /exists and is not empty \(pass --force/);
  await writeModelFolder(model, one, { force: true });
  assert.deepEqual([parseShardSize('5GB'), parseShardSize('2MiB'), parseShardSize('1000')], [5e9, 2 ** 21, 1000]);
  assert.throws(() => parseShardSize('lots'), /shard size "lots"/);
});

test('a bad folder is refused, naming the file, the tensor and the problem', async () => {
  const one = path.join(dir, 'one');
  assert.throws(() => loadModelFolder(path.join(dir, 'nowhere'), backend), /nowhere: no such model folder/);
  mkdirSync(path.join(dir, 'empty'));
  assert.throws(() => loadModelFolder(path.join(dir, 'empty'), backend), /empty\/config\.json is missing/);
  const name = 'model.mm_projector.0.weight';
  const missing = editedFolder(one, 'missing', (t) => { delete t[name]; });
  assert.throws(() => loadModelFolder(missing, backend), new RegExp(`model\\.safetensors: 1 problem\\(s\\) with the weights: tensor ${name.replace(/\./g, '\\.')} \\[64, 48\\] is missing`));
  const shape = editedFolder(one, 'shape', (t) => { t[name] = { dtype: 'F32', shape: [48, 64], data: t[name]!.data }; });
  assert.throws(() => loadModelFolder(shape, backend), /model\.safetensors: tensor model\.mm_projector\.0\.weight has shape \[48, 64\], the config gives \[64, 48\]/);
  const dtype = editedFolder(one, 'dtype', (t) => { t[name] = { dtype: 'I32', shape: [64, 48], data: new Int32Array(64 * 48) }; });
  assert.throws(() => loadModelFolder(dtype, backend), /tensor model\.mm_projector\.0\.weight has dtype I32, expected a float/);
  const extra = editedFolder(one, 'extra', (t) => { t['model.surprise'] = { dtype: 'F32', shape: [2], data: new Float32Array(2) }; });
  assert.throws(() => loadModelFolder(extra, backend), /tensor model\.surprise is not a parameter of this config/);
  const noDecoder = editedFolder(one, 'no-decoder', (t) => { for (const k of Object.keys(t)) if (k.includes('pixel_decoder.decoder.')) delete t[k]; });
  loadModelFolder(noDecoder, backend); // upstream's checkpoints hold only the VAE encoder
  const vocab = editedFolder(one, 'vocab', () => {});
  const v = JSON.parse(readFileSync(path.join(vocab, 'vocab.json'), 'utf8')) as Record<string, number>;
  [v.ball, v.block] = [v.block!, v.ball!];
  writeFileSync(path.join(vocab, 'vocab.json'), JSON.stringify(v));
  assert.throws(() => loadModelFolder(vocab, backend), /vocab\.json and .*config\.json disagree: id 5 is "block" in vocab\.json, "ball" in word_tokenizer\.words/);
});

test('a batch file: losses, and each missing tensor, wrong shape or dtype named', async () => {
  const p = new Processor(model.config);
  const ids = p.promptIds({ instruction: 'lift the red block', state: new Array(8).fill(0.5), actions: new Array(14).fill(0.25) });
  const t = ids.length;
  const i64 = (xs: number[]) => BigInt64Array.from(xs, (x) => BigInt(x));
  const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7));
  const good: TensorsToWrite = {
    'input.pixel_values': { dtype: 'F32', shape: [1, 3, 32, 32], data: rand(3072) },
    'input.input_ids': { dtype: 'I64', shape: [1, t], data: i64(ids) },
    'input.attention_mask': { dtype: 'I64', shape: [1, t], data: i64(ids.map(() => 1)) },
    'input.labels': { dtype: 'I64', shape: [1, t], data: i64(ids.map((x, i) => (i <= ids.lastIndexOf(4) ? -100 : x))) },
    'input.target_images': { dtype: 'F32', shape: [1, 3, 32, 32], data: rand(3072) },
    'input.posterior_noise': { dtype: 'F32', shape: [1, 4, 8, 8], data: rand(256) },
    'input.t': { dtype: 'I64', shape: [4], data: i64([0, 10, 500, 999]) },
    'input.noise': { dtype: 'F32', shape: [4, 16, 4, 4], data: rand(1024) },
  };
  const file = (name: string, edit: (t: TensorsToWrite) => void = () => {}): string => {
    const f = path.join(dir, `${name}.safetensors`);
    const t2 = { ...good };
    edit(t2);
    writeSafetensors(f, t2);
    return f;
  };
  const l = await batchLosses(model, readBatch(file('good'), model, backend));
  assert.ok(l.lm > 0 && l.vm! > 0 && Math.abs(l.total - l.lm - l.vm!) < 1e-5, JSON.stringify(l));
  assert.throws(() => readBatch(file('no-noise', (x) => { delete x['input.noise']; }), model, backend), /no-noise\.safetensors: tensor input\.noise is missing/);
  assert.throws(() => readBatch(file('t-shape', (x) => { x['input.t'] = { dtype: 'I64', shape: [2], data: i64([0, 1]) }; }), model, backend), /tensor input\.t has shape \[2\], expected \[4\]/);
  assert.throws(() => readBatch(file('t-range', (x) => { x['input.t'] = { dtype: 'I64', shape: [4], data: i64([0, 1, 2, 1000]) }; }), model, backend), /input\.t holds 1000 at \[3\], outside \[0, 1000\)/);
  assert.throws(() => readBatch(file('pix-dtype', (x) => { x['input.pixel_values'] = { dtype: 'F64', shape: [1, 3, 32, 32], data: new Float64Array(3072) }; }), model, backend), /tensor input\.pixel_values has dtype F64, expected F32/);
  assert.throws(() => readBatch(file('ids-dtype', (x) => { x['input.labels'] = { dtype: 'F32', shape: [1, t], data: new Float32Array(t) }; }), model, backend), /tensor input\.labels has dtype F32, expected I64/);
  assert.throws(() => readBatch(file('pix-shape', (x) => { x['input.pixel_values'] = { dtype: 'F32', shape: [1, 3, 16, 16], data: new Float32Array(768) }; }), model, backend), /input\.pixel_values has shape \[1, 3, 16, 16\], expected \[1, 3, 32, 32\]/);
});

test('reconvla loss on the reconvla_tiny fixture itself (its params as a folder, its input.* as the batch) gives the float64 reference losses', async (t) => {
  const fixtures = findFixtures(/^reconvla_tiny/);
  if (fixtures.length === 0) return skipOrFail(t, `no reconvla_tiny fixture in ${goldenDir()}`);
  for (const file of fixtures) {
    const fx = new Fixture(file);
    const folder = path.join(dir, `golden-${fx.name}`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'config.json'), JSON.stringify(fx.config()));
    const params: TensorsToWrite = {};
    for (const n of fx.file.names()) if (n.startsWith('param.')) params[n.slice('param.'.length)] = { dtype: 'F32', shape: fx.shape(n), data: fx.f32(n) };
    writeSafetensors(path.join(folder, 'model.safetensors'), params);
    const m = loadModelFolder(folder, backend); // upstream's layout: no VAE decoder, tied head not stored
    const l = await batchLosses(m, readBatch(file, m, backend));
    const ref = { lm: fx.f32('output.lm_loss')[0]!, vm: fx.f32('output.vm_loss')[0]!, total: fx.f32('output.loss')[0]! };
    for (const k of ['lm', 'vm', 'total'] as const) assert.ok(Math.abs(l[k]! - ref[k]) <= 1e-5 * Math.abs(ref[k]), `${fx.name} ${k}: ${l[k]} against ${ref[k]}`);
    fx.close();
  }
});

test('eval takes --run or --model, exactly one', () => {
  const f: EvalFlags = { chains: 1, perTask: 0, paraphrases: 'heldout', objects: 'all', image: 'normal', maxSteps: 3, seed: 0, backend: 'cpu' };
  assert.equal(optionsFromFlags({ ...f, model: 'exported' }).json, path.join('exported', 'eval.json'));
  assert.throws(() => optionsFromFlags(f), /give --run RUN \(a run folder\) or --model DIR/);
  assert.throws(() => optionsFromFlags({ ...f, run: 'r', model: 'm' }), /give --run RUN/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
