// The demo command end to end on the smoke preset: data, every stage (the vision stage too),
// evaluation on new scenes and on D with black images, pictures, loss curves and summary.json;
// a second run in the same folder reuses the dataset and resumes the finished run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/main.ts';

test('reconvla demo --preset smoke: every stage, evaluation, pictures and summary; rerun reuses data and run', async () => {
  const out = mkdtempSync(join(tmpdir(), 'reconvla-demo-'));
  try {
    assert.equal(await main(['node', 'reconvla', 'demo', '--preset', 'smoke', '--out', out]), 0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { preset: { name: string }; eval: { env: string; first_task: { attempts: number } }[]; black: { env: string }[] };
    assert.equal(summary.preset.name, 'smoke');
    assert.deepEqual(summary.eval.map((r) => r.env), ['A', 'D']);
    assert.ok(summary.eval.every((r) => r.first_task.attempts === 1));
    assert.deepEqual(summary.black.map((r) => r.env), ['D']);
    const log = readFileSync(join(out, 'run', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { stage: string });
    assert.deepEqual([...new Set(log.map((e) => e.stage))], ['vision', 'vae', 'pretrain', 'finetune']);
    for (const f of ['run/model/model.safetensors', 'run/loss.png', 'eval.json', 'eval-black.json', 'pictures/reconstruction.png', 'pictures/attention.png']) {
      assert.ok(existsSync(join(out, f)), `${f} written`);
    }
    const config = JSON.parse(readFileSync(join(out, 'run', 'model', 'config.json'), 'utf8')) as { tasks: string[]; image_views: string[] };
    assert.deepEqual(config.tasks, ['lamp_on', 'lift']);
    assert.deepEqual(config.image_views, ['static', 'gripper']);
    // Again: the dataset is kept and training resumes from the final checkpoint (no new steps).
    assert.equal(await main(['node', 'reconvla', 'demo', '--preset', 'smoke', '--out', out]), 0);
    const again = readFileSync(join(out, 'run', 'log.jsonl'), 'utf8').trim().split('\n');
    assert.equal(again.length, log.length);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
