// Training: the loss goes down on a fixed batch, the freezing and ablation switches decide which
// parameters get gradients, checkpoints survive a crash mid-write, and resuming reproduces the
// uninterrupted run exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tidy, type Backend } from '@reconvla/core';
import { testBackends } from '../../../test/helpers/backends.ts';
import { collatePrompts, latestCheckpoint, parseReconVLAConfig, Processor, ReconVLA, Trainer, type HostBatch, type LogEntry } from '../src/index.ts';
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

test('resume after a crash continues the run exactly (all stages, optimizer, scheduler, RNG, data order)', async () => {
  const stages = [stage('vae', 2), stage('pretrain', 2), stage('finetune', 3, { minLr: 1e-4, warmupSteps: 1 })];
  const cfg = trainConfig(stages, testModelJson(), { checkpointEvery: 2 });
  const straight = Trainer.create(cfg, { runDir: tmp(), backend, source: () => syntheticSource() });
  const want = await params(await straight.run());
  straight.model.dispose();

  const dir = tmp();
  // Crash in the finetune stage after its checkpoint at step 2 (global step 6).
  const crashing = Trainer.create(cfg, { runDir: dir, backend, source: (s) => syntheticSource(s.kind === 'finetune' ? { crashAfter: 2 } : {}) });
  await assert.rejects(crashing.run(), /simulated crash/);
  crashing.model.dispose();
  assert.match(latestCheckpoint(path.join(dir, 'checkpoints'))!, /step-0000006$/);
  const resumed = Trainer.create(cfg, { runDir: dir, backend, source: () => syntheticSource(), resume: true });
  const got = await params(await resumed.run());
  resumed.model.dispose();
  for (const [k, v] of want) assert.deepEqual(got.get(k), v, `parameter ${k} differs after resuming`);
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
