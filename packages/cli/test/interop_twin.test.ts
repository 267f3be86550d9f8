// Round trips between this code and the PyTorch twin (python/reconvla_twin), on a model trained
// here a few steps on a small tabletop dataset:
//   - exported (one file, and sharded), loaded by the twin: the same lm, vm and total loss on the
//     same batch file (1e-4 relative) and the same greedy action tokens;
//   - the twin's reader of our shards builds the very batch `reconvla batch` wrote;
//   - trained on by python/train_ddp.py, exported back: it loads here (`--model`), gives the
//     twin's losses, and evaluates in the simulator;
//   - train_ddp.py on 2 processes (torchrun, gloo) gives the 1-process losses with the same global batch.
// Needs a python3 with torch (RECONVLA_PYTHON, /usr/bin/python3, then python3 on PATH); without
// one the tests skip, and under CI=true they fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBackend, writeSafetensors, type Backend } from '@reconvla/core';
import {
  collatePrompts, loadModelFolder, predictActions, Processor, stageDefaults, tinyConfigJson, Trainer, type HostBatch, type ReconVLA, type TrainConfig,
} from '@reconvla/reconvla';
import { datasetInstructions, tabletopSource, tabletopStateRange, tabletopVocabulary } from '@reconvla/reconvla/sim';
import { generateDataset } from '@reconvla/tabletop';
import { requireEverything, skipOrFail } from '../../../test/helpers/golden.ts';
import { torchPython } from '../../../test/helpers/torch_python.ts';
import type { EvalSuiteResult } from '../src/eval_command.ts';
import { batchLosses, readBatch, type Losses } from '../src/loss_command.ts';
import { main } from '../src/main.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const python = torchPython();
const dir = mkdtempSync(path.join(tmpdir(), 'interop-twin-'));
const data = path.join(dir, 'data'), run = path.join(dir, 'run'), exported = path.join(dir, 'exported'), sharded = path.join(dir, 'sharded');
const batchFile = path.join(dir, 'batch.safetensors'), promptsFile = path.join(dir, 'prompts.safetensors');
const BATCH = { size: 3, seed: 5, index: 1 };
let backend: Backend;

/** The twin's answer to a job of interop_twin.py. */
function twin(job: unknown): Record<string, unknown> {
  const r = spawnSync(python!, [path.join(here, 'interop_twin.py'), JSON.stringify(job)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, `interop_twin.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** train_ddp.py, on one process or (nproc > 1) under torchrun; returns its log.jsonl entries. */
function trainDdp(out: string, nproc: number, extra: string[]): Record<string, number>[] {
  const script = [path.join(repo, 'python/train_ddp.py'), '--model', exported, '--data', data, '--out', out, ...extra];
  // Debian's torch 1.13 on Python 3.11: torchrun's default stream settings ('0') do not parse; 2 and 1 do.
  // --standalone: a rendezvous on a free local port (no clash with another run's).
  const torchrun = ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', String(nproc), '--redirects', '2', '--tee', '1'];
  const r = spawnSync(python!, nproc > 1 ? [...torchrun, ...script] : script, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, `train_ddp.py (${nproc} process(es)) failed:\n${r.stdout}\n${r.stderr}`);
  return readFileSync(path.join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
}

const relClose = (got: number, ref: number, rel: number): boolean => Number.isFinite(got) && Number.isFinite(ref) && Math.abs(got - ref) <= rel * Math.abs(ref);

function assertLossesClose(got: Losses, ref: { lm: number; vm: number | null; total: number }, rel: number, what: string): void {
  for (const k of ['lm', 'vm', 'total'] as const) {
    assert.ok(relClose(got[k]!, ref[k]!, rel), `${what}: ${k} ${got[k]} here, ${ref[k]} in the twin (relative tolerance ${rel})`);
  }
}

async function tsLosses(folder: string): Promise<Losses> {
  const model = loadModelFolder(folder, backend);
  return batchLosses(model, readBatch(batchFile, model, backend));
}

before(async () => {
  if (!python) return;
  backend = await createBackend('cpu');
  generateDataset({ out: data, envs: ['A', 'B'], episodes: 4, seed: 3, noise: 0.15, tasks: ['lamp_on', 'lift'], randomStart: true, shardFrames: 48 });
  const model = tinyConfigJson({
    words: tabletopVocabulary(datasetInstructions(data)), stateRange: tabletopStateRange(), views: ['static', 'gripper'], stateEncoding: 'fourier',
    actionChunk: 1, nBins: 64, denoiserRepeat: 2, tasks: ['lamp_on', 'lift'], ablation: { unfreeze_vision_tower: true },
  });
  const train: TrainConfig = { model, stages: [{ ...stageDefaults('finetune', data, 3), batchSize: 2 }], seed: 0, logEvery: 1, checkpointEvery: 100, keepCheckpoints: 1 };
  const views = ['static', 'gripper'] as const;
  await Trainer.create(train, {
    runDir: run, backend, signals: false,
    source: (stage) => tabletopSource(stage.data, { cropSize: 32, actionChunk: 1, views: [...views], tasks: ['lamp_on', 'lift'] }),
  }).run();
  assert.equal(await main(['node', 'reconvla', 'export', '--run', run, '--out', exported]), 0);
  assert.equal(await main(['node', 'reconvla', 'export', '--run', run, '--out', sharded, '--max-shard-size', '600KB']), 0);
  assert.equal(await main(['node', 'reconvla', 'batch', '--model', exported, '--data', data, '--out', batchFile,
    '--batch-size', String(BATCH.size), '--seed', String(BATCH.seed), '--index', String(BATCH.index)]), 0);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the exported folder: config, weights (one file or shards + index), tokenizer files, model card', (t) => {
  if (!python) return skipOrFail(t, 'no python3 with torch');
  const files = readdirSync(sharded);
  assert.ok(files.includes('model.safetensors.index.json') && !files.includes('model.safetensors'), files.join(', '));
  const index = JSON.parse(readFileSync(path.join(sharded, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  const shards = new Set(Object.values(index.weight_map));
  assert.ok(shards.size >= 3, `${shards.size} shards`);
  for (const s of shards) assert.match(s, /^model-\d{5}-of-\d{5}\.safetensors$/);
  assert.ok(index.metadata.total_size > 1e6);
  for (const f of ['config.json', 'model.safetensors', 'vocab.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'README.md', 'train.json']) {
    assert.ok(existsSync(path.join(exported, f)), `${f} in the export`);
  }
  const vocab = JSON.parse(readFileSync(path.join(exported, 'vocab.json'), 'utf8')) as Record<string, number>;
  const config = JSON.parse(readFileSync(path.join(exported, 'config.json'), 'utf8')) as { word_tokenizer: { words: string[] }; vocab_size: number };
  assert.equal(vocab['<unk>'], 2);
  assert.equal(vocab[config.word_tokenizer.words[0]!], 5);
  assert.equal(Object.keys(vocab).length, config.vocab_size);
  const card = readFileSync(path.join(exported, 'README.md'), 'utf8');
  assert.match(card, /finetune\*\* \(finetune\): 3 steps, batch 2/);
  assert.match(card, /4 expert episodes/);
  assert.match(card, /npx reconvla train --data \S+ --out \S+ --vae-steps 0 --pretrain-steps 0 --finetune-steps 3 --batch-size 2 .*--views static,gripper --state-encoding fourier --chunk 1 --action-bins 64 --denoiser-repeat 2/);
});

test('reconvla loss here equals the twin on the same batch, exported as one file and sharded; the same greedy action tokens', async (t) => {
  if (!python) return skipOrFail(t, 'no python3 with torch');
  const single = await tsLosses(exported);
  const shardedLosses = await tsLosses(sharded);
  assert.deepEqual(shardedLosses, single);
  assert.ok(single.lm > 0 && single.vm! > 0 && relClose(single.total, single.lm + single.vm!, 1e-6), JSON.stringify(single));

  // Greedy decoding of generation prompts made from the same frames.
  const model: ReconVLA = loadModelFolder(exported, backend);
  const processor = new Processor(model.config);
  const it = tabletopSource(data, { cropSize: 32, actionChunk: 1, views: model.config.views, tasks: model.config.tasks })({ batchSize: BATCH.size, seed: BATCH.seed, start: BATCH.index });
  const host = (await it.next()).value as HostBatch;
  await it.return?.();
  const views = model.config.views.length;
  const samples = host.instructions.map((instruction, i) => ({ images: host.images.slice(i * views, (i + 1) * views), instruction, state: host.states[i]! }));
  const ours = await Promise.all(samples.map(async (s) => (await predictActions(model, processor, s)).ids));
  const prompts = collatePrompts(samples.map((s) => processor.promptIds(s)), model.config.prompt, false);
  const i64 = (a: Int32Array) => BigInt64Array.from(a, (x) => BigInt(x));
  writeSafetensors(promptsFile, {
    'input.pixel_values': { dtype: 'F32', shape: [BATCH.size * views, 3, 32, 32], data: await processor.pixels(host.images, backend).data() as Float32Array },
    'input.input_ids': { dtype: 'I64', shape: [prompts.batchSize, prompts.seqLen], data: i64(prompts.inputIds) },
    'input.attention_mask': { dtype: 'I64', shape: [prompts.batchSize, prompts.seqLen], data: i64(prompts.attentionMask) },
    'input.state_values': { dtype: 'F32', shape: [BATCH.size, processor.stateValues(host.states, backend).shape[1]!], data: await processor.stateValues(host.states, backend).data() as Float32Array },
  });

  const r = twin({ losses: [[exported, batchFile], [sharded, batchFile]], greedy: [exported, promptsFile], shards: { folder: exported, data, batch: batchFile, seed: BATCH.seed, index: BATCH.index, batch_size: BATCH.size } });
  const [a, b] = r.losses as { lm: number; vm: number; total: number }[];
  assertLossesClose(single, a!, 1e-4, 'exported folder');
  assertLossesClose(shardedLosses, b!, 1e-4, 'sharded folder');
  assert.deepEqual(r.greedy, ours, 'greedy action ids: twin vs here');
  assert.equal(ours.flat().length, BATCH.size * 7);

  // The twin's reader of our shards builds the batch `reconvla batch` wrote: ids equal, pixels bit-identical.
  const shards = r.shards as Record<string, number | boolean>;
  for (const k of ['input_ids', 'attention_mask', 'labels']) assert.equal(shards[k], true, `${k} from python/reconvla_twin/shards.py`);
  for (const k of ['pixel_values', 'target_images']) assert.equal(shards[k], 0, `${k}: max |python - TS| ${shards[k]}`);
  assert.ok((shards.state_values as number) <= 1e-6, `state_values: max |python - TS| ${shards.state_values}`);
});

test('a model trained by the twin (train_ddp.py) loads here with --model, gives the twin\'s losses and evaluates in the simulator', async (t) => {
  if (!python) return skipOrFail(t, 'no python3 with torch');
  const out = path.join(dir, 'py-1');
  const log = trainDdp(out, 1, ['--steps', '3', '--global-batch', '4', '--checkpoint-every', '2']);
  assert.equal(log.length, 3);
  assert.ok(log.every((e) => Number.isFinite(e.loss) && e.loss > 0));
  assert.ok(readdirSync(path.join(out, 'checkpoints')).some((f) => f === 'step-000003.pt'));
  const folder = path.join(out, 'model');
  const ours = await tsLosses(folder);
  const before = await tsLosses(exported);
  assert.notEqual(ours.total, before.total, 'the weights changed in training');
  const ref = (twin({ losses: [[folder, batchFile]] }).losses as { lm: number; vm: number; total: number }[])[0]!;
  assertLossesClose(ours, ref, 1e-4, 'python-trained folder');

  const json = path.join(dir, 'py-eval.json');
  assert.equal(await main(['node', 'reconvla', 'eval', '--model', folder, '--env', 'A', '--chains', '1', '--max-steps', '3', '--paraphrases', 'train', '--backend', 'cpu', '--json', json]), 0);
  const result = JSON.parse(readFileSync(json, 'utf8')) as EvalSuiteResult;
  assert.equal(result.model, folder);
  assert.equal(result.rows.length, 1);
  assert.ok(result.model_calls >= 3, `${result.model_calls} policy calls`);
  assert.equal(result.rows[0]!.chains!.chains, 1);
});

test('train_ddp.py on 2 processes (torchrun, gloo) matches 1 process with the same global batch', (t) => {
  if (!python) return skipOrFail(t, 'no python3 with torch');
  const args = ['--steps', '3', '--global-batch', '4', '--checkpoint-every', '100'];
  const one = trainDdp(path.join(dir, 'ddp-1'), 1, args);
  const two = trainDdp(path.join(dir, 'ddp-2'), 2, [...args, '--micro-batch', '1']); // 2 ranks x 2 micro-batches of 1
  assert.equal(two.length, 3);
  assert.equal(two[0]!.world, 2);
  assert.equal(two[0]!.accumulation, 2);
  for (let s = 0; s < 3; s++) {
    for (const k of ['loss', 'lm', 'vm', 'grad_norm']) {
      assert.ok(relClose(two[s]![k]!, one[s]![k]!, 1e-5), `step ${s + 1} ${k}: ${two[s]![k]} on 2 processes, ${one[s]![k]} on 1`);
    }
  }
  assert.ok(one[2]!.loss !== one[0]!.loss);
});

test('interop tests need python3 with torch under CI', () => {
  if (requireEverything) assert.ok(python, 'CI=true and no python3 with torch (RECONVLA_PYTHON, /usr/bin/python3, python3 on PATH)');
});
