// Training: the loss goes down on a fixed batch, the freezing and ablation switches decide which
// parameters get gradients, the vision stage trains the tower (then frozen) and keeps its text
// side out of the model, checkpoints survive a crash mid-write, and resuming reproduces the
// uninterrupted run exactly, inside the vision stage too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tidy, type Backend } from '@reconvla/core';
import { testBackends } from '../../../test/helpers/backends.ts';
import { captionVocabulary } from '@reconvla/tabletop';
import { collatePrompts, latestCheckpoint, parseReconVLAConfig, Processor, ReconVLA, Trainer, type BatchSource, type HostBatch, type LogEntry, type StageConfig } from '../src/index.ts';
import { sceneCaptionSource } from '../src/sim/index.ts';
import { stage, syntheticSource, testModelJson, trainConfig } from './synthetic.ts';

// The fastest backend present (the tiny model trains fastest on wasm); results are backend-independent.
const all = await testBackends();
const backend = (all.find((b) => b.name === 'wasm' && b.backend) ?? all[0]!).backend as Backend;
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-test-'));

test('a few fine-tuning steps on a fixed batch reduce both losses', async () => {
  const logs: LogEntry[] = [];
  const trainer = Trainer.create(trainConfig([stage('finetune', 12)]), { runDir: tmp(), backend, source: () => syntheticSource({ fixed: true }), onLog: (e) => logs.push(e) });
  await trainer.run();
  const first = logs[0]!, last = logs[logs.length - 1]!;
  assert.ok(last.lm! < first.lm! * 0.8, `lm loss ${first.lm} -> ${last.lm}`);
  assert.ok(last.vm! < first.vm!, `vm loss ${first.vm} -> ${last.vm}`);
  trainer.model.dispose();
});

async function gradsAfterStep(ablation: Parameters<typeof testModelJson>[0]): Promise<Map<string, boolean>> {
  const model = new ReconVLA(parseReconVLAConfig(testModelJson(ablation)), { backend });
  const p = new Processor(model.config);
  const b = (await syntheticSource()({ batchSize: 2, seed: 0, start: 0 }).next()).value as HostBatch;
  tidy(() => {
    const rows = b.instructions.map((instruction, i) => p.promptIds({ instruction, state: b.states[i]!, actions: b.actions[i]! }));
    model.forward({ pixelValues: p.pixels(b.images, backend), prompts: collatePrompts(rows, model.config.prompt), targetImages: p.pixels(b.targets, backend) }).loss.backward();
  });
  const got = new Map([...model.namedParameters()].map(([k, t]) => [k, t.grad !== null]));
  model.dispose();
  return got;
}

const part = (k: string): string => /^model\.(vision_tower|mm_projector|pixel_decoder|mm_inv_projector)\./.exec(k)?.[1] ?? 'llm';

test('freezing: vision tower and VAE get no gradients, everything else does; recon off leaves the denoiser without gradients', async () => {
  const summarize = (g: Map<string, boolean>): Record<string, string> => {
    const out: Record<string, Set<boolean>> = {};
    for (const [k, v] of g) (out[part(k)] ??= new Set()).add(v);
    return Object.fromEntries(Object.entries(out).map(([k, s]) => [k, [...s].sort().join('/')]));
  };
  assert.deepEqual(summarize(await gradsAfterStep({})), { llm: 'true', vision_tower: 'false', mm_projector: 'true', pixel_decoder: 'false', mm_inv_projector: 'true' });
  assert.deepEqual(summarize(await gradsAfterStep({ recon: false })), { llm: 'true', vision_tower: 'false', mm_projector: 'true', pixel_decoder: 'false', mm_inv_projector: 'false' });
  // Unfrozen, the tower trains what hidden_states[-2] uses: not its last layer, post_layernorm or head.
  const unfrozen = await gradsAfterStep({ unfreeze_vision_tower: true, freeze_projector: true });
  assert.deepEqual(summarize(unfrozen), { llm: 'true', vision_tower: 'false/true', mm_projector: 'false', pixel_decoder: 'false', mm_inv_projector: 'true' });
  const tower = 'model.vision_tower.vision_tower.vision_model.';
  assert.equal(unfrozen.get(`${tower}embeddings.patch_embedding.weight`), true);
  assert.equal(unfrozen.get(`${tower}encoder.layers.0.mlp.fc2.weight`), true);
  assert.equal(unfrozen.get(`${tower}encoder.layers.1.mlp.fc2.weight`), false);
});

test('recon off: the trainer optimizes the LLM and projector only, with the action loss alone', async () => {
  const logs: LogEntry[] = [];
  const cfg = trainConfig([stage('finetune', 2, { vmLoss: false })], testModelJson({ recon: false }));
  const trainer = Trainer.create(cfg, { runDir: tmp(), backend, source: () => syntheticSource(), onLog: (e) => logs.push(e) });
  const before = tidy(() => trainer.model.denoiser.net.finalLayer.adaLN.weight.dataSync().slice());
  await trainer.run();
  assert.ok(logs.every((e) => e.vm === null && e.lm !== null && e.loss === e.lm));
  assert.deepEqual(trainer.model.denoiser.net.finalLayer.adaLN.weight.dataSync(), before);
  trainer.model.dispose();
});

async function params(model: ReconVLA): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of model.namedParameters()) out.set(k, (await t.data()) as Float32Array);
  return out;
}

/** A source that throws at batch `after` (a crash after the checkpoint of that step). */
function crashing(source: BatchSource, after: number): BatchSource {
  return async function* (o): AsyncGenerator<HostBatch> {
    const it = source(o);
    for (let k = o.start; ; k++) {
      if (k >= after) throw new Error('simulated crash');
      yield (await it.next()).value as HostBatch;
    }
  };
}

/** Captioned scenes for the vision stage, the synthetic robot data for the others; a crash where asked. */
function sources(crash?: { kind: StageConfig['kind']; after: number }): (s: StageConfig, m: ReconVLA) => BatchSource {
  return (s, m) => {
    const source = s.kind === 'vision' ? sceneCaptionSource({ envs: ['A', 'B'], views: m.config.views }) : syntheticSource();
    return crash?.kind === s.kind ? crashing(source, crash.after) : source;
  };
}

const visionStage = (steps: number): StageConfig => stage('vision', steps, { captionWords: captionVocabulary(), vmLoss: false, textConfig: { max_position_embeddings: 16 } });

test('resume after a crash continues the run exactly (all stages, optimizer, scheduler, RNG, data order, the vision stage\'s text side)', async () => {
  const stages = [visionStage(3), stage('vae', 2), stage('pretrain', 2), stage('finetune', 3, { minLr: 1e-4, warmupSteps: 1 })];
  const cfg = trainConfig(stages, testModelJson(), { checkpointEvery: 2 });
  const straightDir = tmp();
  const straight = Trainer.create(cfg, { runDir: straightDir, backend, source: sources() });
  const want = await params(await straight.run());
  straight.model.dispose();

  const dir = tmp();
  // Crash inside the vision stage after its checkpoint at step 2: the text tower, heads, t' and b come back from it.
  const first = Trainer.create(cfg, { runDir: dir, backend, source: sources({ kind: 'vision', after: 2 }) });
  await assert.rejects(first.run(), /simulated crash/);
  first.model.dispose();
  assert.match(latestCheckpoint(path.join(dir, 'checkpoints'))!, /step-0000002$/);
  assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'step-0000002', 'auxiliary.safetensors')));
  // Then in the finetune stage after its checkpoint at step 2 (global step 9).
  const second = Trainer.create(cfg, { runDir: dir, backend, source: sources({ kind: 'finetune', after: 2 }), resume: true });
  await assert.rejects(second.run(), /simulated crash/);
  second.model.dispose();
  assert.match(latestCheckpoint(path.join(dir, 'checkpoints'))!, /step-0000009$/);
  assert.ok(!fs.existsSync(path.join(dir, 'checkpoints', 'step-0000009', 'auxiliary.safetensors')), 'later stages carry no text side');
  const resumed = Trainer.create(cfg, { runDir: dir, backend, source: sources(), resume: true });
  const got = await params(await resumed.run());
  resumed.model.dispose();
  for (const [k, v] of want) assert.deepEqual(got.get(k), v, `parameter ${k} differs after resuming`);
  const textSide = (d: string): Buffer => fs.readFileSync(path.join(d, 'vision_stage', 'model.safetensors'));
  assert.ok(textSide(dir).equals(textSide(straightDir)), 'the vision stage\'s text tower and heads differ after resuming');
});

test('the vision stage trains the tower and its text side only; the tower stays frozen afterwards; model/ keeps ReconVLA\'s keys', async () => {
  const dir = tmp();
  const logs: LogEntry[] = [];
  const tower = (m: ReconVLA): Float32Array[] => m.visionTower.parameters().map((p) => p.dataSync().slice() as Float32Array);
  const rest = (m: ReconVLA): Float32Array[] => [...m.namedParameters()].filter(([k]) => !k.includes('vision_tower')).map(([, p]) => p.dataSync().slice() as Float32Array);
  const trainer = Trainer.create(trainConfig([visionStage(2), stage('finetune', 2)]), {
    runDir: dir, backend, source: sources(), onLog: (e) => logs.push(e),
    onStep: (s, step) => { if (s.kind === 'vision' && step === 2) afterVision = { tower: tower(trainer.model), rest: rest(trainer.model) }; },
  });
  let afterVision: { tower: Float32Array[]; rest: Float32Array[] } | null = null;
  const before = { tower: tower(trainer.model), rest: rest(trainer.model) };
  const model = await trainer.run();
  const mid = afterVision as { tower: Float32Array[]; rest: Float32Array[] } | null;
  assert.ok(mid, 'the vision stage ran');
  assert.ok(mid.tower.some((t, i) => !t.every((v, k) => v === before.tower[i]![k])), 'the vision stage changes the tower');
  assert.deepEqual(mid.rest, before.rest, 'and nothing else of ReconVLA');
  assert.deepEqual(tower(model), mid.tower, 'finetuning leaves the tower frozen');
  assert.ok(rest(model).some((t, i) => !t.every((v, k) => v === mid.rest[i]![k])), 'finetuning trains the rest');
  const vision = logs.filter((e) => e.stage === 'vision'), finetune = logs.filter((e) => e.stage === 'finetune');
  assert.ok(vision.length === 2 && vision.every((e) => e.lm === null && e.vm === null && e.retrieval !== null && e.retrieval >= 0 && e.retrieval <= 1 && Number.isFinite(e.loss)));
  assert.ok(finetune.every((e) => e.retrieval === null && e.lm !== null));
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'vision_stage', 'config.json'), 'utf8')) as { text_config: { max_position_embeddings: number }; caption_words: string[] };
  assert.equal(saved.text_config.max_position_embeddings, 16);
  assert.deepEqual(saved.caption_words, captionVocabulary());
  const header = fs.readFileSync(path.join(dir, 'model', 'model.safetensors')).subarray(8, 8 + 200_000).toString('latin1');
  assert.ok(!header.includes('text_model.') && !header.includes('logit_scale'), 'model/ holds only ReconVLA\'s state dict');
  model.dispose();
});

test('a vision stage without caption words, or fed batches without captions, says so', async () => {
  const noWords = Trainer.create(trainConfig([stage('vision', 1)]), { runDir: tmp(), backend, source: sources() });
  await assert.rejects(noWords.run(), /vision stage needs captionWords/);
  noWords.model.dispose();
  const noCaptions = Trainer.create(trainConfig([visionStage(1)]), { runDir: tmp(), backend, source: () => syntheticSource() });
  await assert.rejects(noCaptions.run(), /the batch has no captions/);
  noCaptions.model.dispose();
});

test('a crash while writing a checkpoint leaves the previous one as the latest, and it loads', async () => {
  const dir = tmp();
  const cfg = trainConfig([stage('finetune', 4)], testModelJson(), { checkpointEvery: 2 });
  let writes = 0;
  const trainer = Trainer.create(cfg, {
    runDir: dir, backend, source: () => syntheticSource(),
    writeHook: (file) => { if (file === 'optimizer.safetensors' && ++writes === 2) throw new Error('disk full'); },
  });
  await assert.rejects(trainer.run(), /disk full/);
  trainer.model.dispose();
  const ck = path.join(dir, 'checkpoints');
  assert.match(latestCheckpoint(ck)!, /step-0000002$/);
  assert.ok(fs.existsSync(path.join(ck, '.tmp-step-0000004')), 'the half-written checkpoint stays a temporary folder');
  const resumed = Trainer.create(cfg, { runDir: dir, backend, source: () => syntheticSource(), resume: true });
  await resumed.run();
  assert.match(latestCheckpoint(ck)!, /step-0000004$/);
  assert.ok(fs.existsSync(path.join(dir, 'model', 'model.safetensors')));
  resumed.model.dispose();
});
