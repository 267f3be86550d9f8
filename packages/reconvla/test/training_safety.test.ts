// Training that survives: a NaN or infinite loss or gradient norm stops the run naming the stage,
// step and value, before the optimizer applies the step and without a checkpoint after it; a
// stop request ends the run after a checkpoint; and real SIGINT / SIGTERM sent to a training
// process (train_child.ts) make it write a checkpoint and exit with 130 / 143, from which
// `resume` reproduces the uninterrupted run bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { F, tidy, type Backend } from '@reconvla/core';
import { testBackends } from '../../../test/helpers/backends.ts';
import { latestCheckpoint, Trainer, type ReconVLA } from '../src/index.ts';
import { NonFiniteLossError, TrainingStopped } from '../src/train/trainer.ts';
import { stage, syntheticSource, trainConfig } from './synthetic.ts';

// The same backend as train_child.ts uses (wasm, two threads), so the runs can be compared bit for bit.
const wasm = (await testBackends()).find((b) => b.name === 'wasm' && b.backend);
const backend = wasm!.backend as Backend;
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-safety-'));
const here = path.dirname(fileURLToPath(import.meta.url));

const snapshot = (m: ReconVLA): Map<string, Float32Array> => new Map([...m.namedParameters()].map(([k, p]) => [k, p.dataSync().slice() as Float32Array]));

/**
 * Six fine-tuning steps with a checkpoint every 2; after step 3, `poison` breaks the model (its
 * parameters are recorded right after). Returns the error of run(), the parameters after
 * step 3 and after the failure, and the run folder.
 */
async function failingRun(poison: (m: ReconVLA) => void): Promise<{ error: unknown; before: Map<string, Float32Array>; after: Map<string, Float32Array>; dir: string }> {
  const dir = tmp();
  let before = new Map<string, Float32Array>();
  const trainer = Trainer.create(trainConfig([stage('finetune', 6)], undefined, { checkpointEvery: 2 }), {
    runDir: dir, backend, source: () => syntheticSource(), signals: false,
    onStep: (_s, step) => { if (step === 3) { poison(trainer.model); before = snapshot(trainer.model); } },
  });
  const error = await trainer.run().then(() => null, (e: unknown) => e);
  const after = snapshot(trainer.model);
  trainer.model.dispose();
  return { error, before, after, dir };
}

const setParameter = (m: ReconVLA, name: string, value: number): void => {
  const p = [...m.namedParameters()].find(([k]) => k === name)?.[1];
  assert.ok(p, `parameter ${name}`);
  tidy(() => p.assign(F.add(F.mul(p, 0), value)));
};

function assertStoppedCleanly(r: Awaited<ReturnType<typeof failingRun>>, message: RegExp): void {
  assert.ok(r.error instanceof NonFiniteLossError, `expected a NonFiniteLossError, got ${String(r.error)}`);
  assert.match(r.error.message, message);
  assert.equal(r.error.stage, 'finetune');
  assert.equal(r.error.step, 4);
  assert.match(latestCheckpoint(path.join(r.dir, 'checkpoints'))!, /step-0000002$/, 'no checkpoint after the bad step');
  assert.ok(!fs.existsSync(path.join(r.dir, 'checkpoints', 'step-0000004')));
  assert.ok(!fs.existsSync(path.join(r.dir, 'model')), 'no final model');
  assert.equal(fs.readFileSync(path.join(r.dir, 'log.jsonl'), 'utf8').trim().split('\n').length, 3, 'steps 1-3 logged, not the bad one');
  for (const [k, v] of r.before) assert.deepEqual(r.after.get(k), v, `the bad step changed ${k}`);
}

test('a NaN vm loss stops the run at that step: named, not applied, no checkpoint after it', async () => {
  const r = await failingRun((m) => setParameter(m, 'model.mm_inv_projector.net.final_layer.linear.bias', NaN));
  assertStoppedCleanly(r, /^stage finetune, step 4: vm loss is NaN \(global step 4; lm loss \d[^,]*, vm loss NaN, loss NaN, gradient norm NaN\).*latest checkpoint is .*step-0000002$/);
  assert.ok(Number.isFinite((r.error as NonFiniteLossError).values.lm));
});

test('a NaN gradient norm with finite losses stops the run too, naming the gradient norm', async () => {
  // A huge final-norm weight: the losses stay finite, the gradients overflow.
  const r = await failingRun((m) => setParameter(m, 'model.norm.weight', 1e20));
  assertStoppedCleanly(r, /^stage finetune, step 4: gradient norm is NaN /);
  const v = (r.error as NonFiniteLossError).values;
  assert.ok(Number.isFinite(v.loss) && Number.isFinite(v.lm!) && Number.isFinite(v.vm!), JSON.stringify(v));
});

test('an infinite loss stops the run, naming it', async () => {
  // A model whose vm loss diverges to +Infinity from step 4 on.
  const r = await failingRun((m) => {
    const forward = m.forward.bind(m);
    m.forward = (inputs) => {
      const out = forward(inputs);
      const vmLoss = F.mul(out.vmLoss!, Infinity);
      return { ...out, vmLoss, loss: F.add(out.lmLoss!, vmLoss) };
    };
  });
  assertStoppedCleanly(r, /^stage finetune, step 4: vm loss is Infinity \(global step 4; lm loss \d[^,]*, vm loss Infinity, loss Infinity, /);
});

test('requestStop() ends the run after the current step with a checkpoint that resumes', async () => {
  const dir = tmp();
  const cfg = trainConfig([stage('finetune', 5)], undefined, { checkpointEvery: 1000 });
  const trainer = Trainer.create(cfg, { runDir: dir, backend, source: () => syntheticSource(), signals: false, onStep: (_s, step) => { if (step === 2) trainer.requestStop('test'); } });
  const error = await trainer.run().then(() => null, (e: unknown) => e);
  trainer.model.dispose();
  assert.ok(error instanceof TrainingStopped, String(error));
  assert.match(error.message, /^test: stopped after stage finetune, step 2 \(global step 2\); checkpoint .*step-0000002; continue with --resume$/);
  assert.match(latestCheckpoint(path.join(dir, 'checkpoints'))!, /step-0000002$/);
  const steps: number[] = [];
  const resumed = Trainer.create(cfg, { runDir: dir, backend, source: () => syntheticSource(), resume: true, signals: false, onStep: (_s, step) => steps.push(step) });
  await resumed.run();
  resumed.model.dispose();
  assert.deepEqual(steps, [3, 4, 5]);
});

// --- real signals on a training process ---------------------------------------------------

interface Child { proc: ChildProcess; out: string; err: string; exit: Promise<number | null> }

function startChild(dir: string, steps: number, resume: boolean): Child {
  const args = ['--import', 'tsx', path.join(here, 'train_child.ts'), dir, String(steps), ...(resume ? ['--resume'] : [])];
  const proc = spawn(process.execPath, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Child = { proc, out: '', err: '', exit: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
  proc.stdout!.on('data', (d: Buffer) => { c.out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { c.err += d.toString(); });
  return c;
}

/** Resolves once the child has printed `step N` (rejects if it exits first). */
async function waitForStep(c: Child, n: number): Promise<void> {
  const seen = (): boolean => new RegExp(`^step ${n}$`, 'm').test(c.out);
  let exited = false;
  void c.exit.then(() => { exited = true; });
  while (!seen()) {
    if (exited) throw new Error(`the training process exited before step ${n}:\n${c.out}\n${c.err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const stepsDone = (c: Child): number[] => [...c.out.matchAll(/^step (\d+)$/gm)].map((m) => Number(m[1]));

test('SIGINT and SIGTERM write a checkpoint at the end of the step and exit 130 / 143; --resume continues bit-exactly', { timeout: 120_000 }, async () => {
  const steps = 24;
  // The uninterrupted run, as train_child.ts configures it.
  const straightDir = tmp();
  const straight = Trainer.create(trainConfig([stage('finetune', steps)], undefined, { checkpointEvery: 1000, logEvery: 1000 }), { runDir: straightDir, backend, source: () => syntheticSource(), signals: false });
  await straight.run();
  straight.model.dispose();

  const dir = tmp();
  const ck = path.join(dir, 'checkpoints');
  const first = startChild(dir, steps, false);
  await waitForStep(first, 3);
  first.proc.kill('SIGINT');
  assert.equal(await first.exit, 130, first.err);
  const stoppedAt = Math.max(...stepsDone(first));
  assert.ok(stoppedAt >= 3 && stoppedAt < steps, `stopped at step ${stoppedAt}`);
  assert.match(first.err, new RegExp(`SIGINT: stopped after stage finetune, step ${stoppedAt} .*continue with --resume`));
  assert.equal(latestCheckpoint(ck), path.join(ck, `step-${String(stoppedAt).padStart(7, '0')}`), 'the checkpoint of the last step done');
  assert.ok(!fs.existsSync(path.join(dir, 'model')));

  const second = startChild(dir, steps, true);
  await waitForStep(second, stoppedAt + 3);
  second.proc.kill('SIGTERM');
  assert.equal(await second.exit, 143, second.err);
  const done2 = stepsDone(second);
  assert.equal(done2[0], stoppedAt + 1, 'resumed after the checkpoint');
  const stoppedAt2 = Math.max(...done2);
  assert.ok(stoppedAt2 < steps, `stopped at step ${stoppedAt2}`);
  assert.match(latestCheckpoint(ck)!, new RegExp(`step-${String(stoppedAt2).padStart(7, '0')}$`));

  const third = startChild(dir, steps, true);
  assert.equal(await third.exit, 0, third.err);
  assert.equal(stepsDone(third)[0], stoppedAt2 + 1);
  assert.match(third.out, /^done$/m);
  const weights = (d: string): Buffer => fs.readFileSync(path.join(d, 'model', 'model.safetensors'));
  assert.ok(weights(dir).equals(weights(straightDir)), 'the interrupted and resumed run ends with other parameters than the uninterrupted one');
});
