import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerSim } from '../../cli/src/sim.ts';
import { decodePng } from '../src/index.ts';

/** Run `reconvla sim ...` in-process; returns the exit code and what went to stdout/stderr. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = new Command('reconvla').exitOverride();
  let out = '', err = '';
  program.configureOutput({ writeOut: (s) => { out += s; }, writeErr: (s) => { err += s; } });
  registerSim(program);
  for (const c of program.commands) for (const s of c.commands) s.exitOverride().configureOutput({ writeOut: (x) => { out += x; }, writeErr: (x) => { err += x; } });
  const log = console.log;
  console.log = (...a: unknown[]) => { out += a.join(' ') + '\n'; };
  try {
    await program.parseAsync(['node', 'reconvla', 'sim', ...args]);
    return { code: 0, out, err };
  } catch (e) {
    return { code: 1, out, err: err + (e instanceof Error ? e.message : String(e)) };
  } finally {
    console.log = log;
  }
}

test('sim render writes both cameras side by side and prints an example instruction', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabletop-cli-'));
  try {
    const r = await run(['render', '--env', 'D', '--seed', '3', '--out', join(dir, 'scene.png'), '--scale', '1']);
    assert.equal(r.code, 0, r.err);
    const img = decodePng(readFileSync(join(dir, 'scene.png')));
    assert.equal(img.height, 128);
    assert.equal(img.width, 128 + 4 + 128);
    assert.match(r.out, /example instruction: ".+"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sim eval writes the JSON result and prints the table', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabletop-cli-'));
  try {
    const json = join(dir, 'r.json');
    const r = await run(['eval', '--policy', 'expert', '--env', 'D', '--chains', '2', '--seed', '0', '--json', json, '--no-render']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\| expert \| 100\.0 \| 100\.0 \| 100\.0 \| 100\.0 \| 100\.0 \| 5\.00 \|/);
    const res = JSON.parse(readFileSync(json, 'utf8')) as { success: number[]; avg_len: number; per_task: object };
    assert.deepEqual(res.success, [1, 1, 1, 1, 1]);
    assert.equal(res.avg_len, 5);
    assert.ok(Object.keys(res.per_task).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sim generate writes a dataset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabletop-cli-'));
  try {
    const r = await run(['generate', '--envs', 'A,B,C', '--episodes', '2', '--out', dir, '--size', '32', '--gripper-size', '16']);
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(join(dir, 'dataset.json')));
    assert.ok(existsSync(join(dir, 'shard-00000.safetensors')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad arguments give clear errors naming the problem', async () => {
  const cases: [string[], RegExp][] = [
    [['render', '--env', 'E', '--out', '/tmp/x.png'], /unknown environment "E": expected one of A, B, C, D/],
    [['eval', '--chains', 'ten'], /chains must be an integer, got "ten"/],
    [['eval', '--chains', '0'], /chains must be in 1\.\.inf, got 0/],
    [['eval', '--policy', 'smart'], /unknown policy "smart": expected expert or random/],
    [['generate', '--envs', 'A,X', '--episodes', '1', '--out', '/tmp/x'], /unknown environment "X"/],
    [['generate', '--envs', 'A', '--out', '/tmp/x'], /required option '--episodes <n>' not specified/],
    [['render', '--out', '/tmp/x.png', '--distractors', '9'], /distractors must be in 0\.\.6, got 9/],
    [['eval', '--noise', 'lots'], /noise must be a number, got "lots"/],
    [['render', '--out', '/tmp/x.png', '--objects', 'new'], /objects must be seen, unseen or all, got "new"/],
  ];
  for (const [args, re] of cases) {
    const r = await run(args);
    assert.equal(r.code, 1, `${args.join(' ')} should fail`);
    assert.match(r.err, re, `${args.join(' ')}: ${r.err}`);
  }
});
