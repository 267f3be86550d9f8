import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { taskListArg } from '../src/args.ts';
import { TASK_KINDS, expertPolicy, taskStats, type EvalResult, type TaskStats } from '@reconvla/tabletop';
import { Generator, createBackend } from '@reconvla/core';
import { initFromScratch, parseReconVLAConfig, ReconVLA } from '@reconvla/reconvla';
import { testModelJson } from '../../reconvla/test/synthetic.ts';
import {
  evaluateSuite, runEvaluation, optionsFromFlags, registerEval, resolveTasks, suiteTables, taskCell, type EvalFlags, type EvalSuiteResult,
} from '../src/eval_command.ts';

/** Parse `reconvla eval ...` without running its action; returns commander's error message, if any. */
async function parseError(args: string[]): Promise<string> {
  const program = new Command('reconvla').exitOverride();
  let err = '';
  registerEval(program);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: (s) => { err += s; }, writeOut: () => {} }).action(() => {});
  try {
    await program.parseAsync(['node', 'reconvla', 'eval', ...args]);
  } catch (e) {
    return err || (e as Error).message;
  }
  return err;
}

test('--tasks: an unknown name is named, with the valid ones listed', async () => {
  assert.throws(() => taskListArg('lift,fly,stack'), (e: Error) =>
    /unknown task "fly" in --tasks: expected all or a comma-separated list of lift, place_in_bowl, .*lamp_off/.test(e.message));
  assert.deepEqual(taskListArg('lift, stack,lift'), ['lift', 'stack']);
  assert.deepEqual(taskListArg('all'), [...TASK_KINDS]);
  assert.throws(() => taskListArg(' , '), /--tasks is empty/);
  const msg = await parseError(['--run', 'r', '--tasks', 'lift,bogus']);
  assert.match(msg, /unknown task "bogus"/);
  assert.match(msg, new RegExp(TASK_KINDS.join(', ')));
  assert.match(await parseError(['--run', 'r', '--image', 'grey']), /image must be normal, black or shuffled, got "grey"/);
  assert.match(await parseError(['--run', 'r', '--objects', 'some']), /objects must be seen, unseen, all or both/);
  assert.match(await parseError(['--run', 'r', '--chains', '-1']), /chains must be an integer >= 0/);
  assert.equal(await parseError(['--run', 'r', '--env', 'D', '--chains', '20']), '');
});

const flags = (f: Partial<EvalFlags>): EvalFlags => ({
  run: 'runs/x', chains: 20, perTask: 0, paraphrases: 'heldout', objects: 'all', image: 'normal', maxSteps: 300, seed: 0, backend: 'wasm', ...f,
});

test('flags become options: --env is one env, "both" expands, the JSON goes to RUN/eval.json', () => {
  const o = optionsFromFlags(flags({ env: 'D' }));
  assert.deepEqual([o.envs, o.chains, o.perTask, o.tasks, o.paraphrases, o.objects, o.json], [['D'], 20, 0, null, ['heldout'], ['all'], join('runs/x', 'eval.json')]);
  const b = optionsFromFlags(flags({ envs: ['A', 'D'], paraphrases: 'both', objects: 'both', tasks: [...TASK_KINDS], json: 'out.json' }));
  assert.deepEqual([b.envs, b.paraphrases, b.objects, b.tasks?.length, b.json], [['A', 'D'], ['train', 'heldout'], ['seen', 'unseen'], 17, 'out.json']);
  assert.deepEqual(optionsFromFlags(flags({})).envs, ['D']);
  assert.equal(optionsFromFlags(flags({})).groundingSource, undefined);
  assert.equal(optionsFromFlags(flags({ groundingSource: 'model' })).groundingSource, undefined);
  assert.equal(optionsFromFlags(flags({ groundingSource: 'oracle' })).groundingSource, 'oracle');
  assert.throws(() => optionsFromFlags(flags({ env: 'D', envs: ['A'] })), /give --env or --envs, not both/);
  assert.throws(() => optionsFromFlags(flags({ chains: 0 })), /nothing to evaluate/);
});

test('the run\'s tasks are the default; unknown ones in its config are named', () => {
  assert.deepEqual(resolveTasks(null, null), [...TASK_KINDS]);
  assert.deepEqual(resolveTasks(null, ['lift', 'stack']), ['lift', 'stack']);
  assert.deepEqual(resolveTasks(['lamp_on'], ['lift']), ['lamp_on']);
  assert.throws(() => resolveTasks(null, ['lift', 'levitate']), /config\.json names unknown tasks levitate/);
});

function chainResult(success: number[], perTask: Record<string, TaskStats>): EvalResult {
  return { success, avg_len: success.reduce((a, b) => a + b, 0), lengths: [], per_task: perTask, chains: 10, env: 'D', seed: 0 };
}

test('the table: a row per combination, cells successes/attempts (rate, 95% CI)', () => {
  const r: EvalSuiteResult = {
    model: 'runs/x/model', method: 'tiny',
    options: { envs: ['D'], chains: 10, per_task: 10, tasks: ['lift', 'stack'], paraphrases: ['train', 'heldout'], objects: ['all'], image: 'black', max_steps: 300, seed: 0, decoding: 'argmax' },
    rows: (['train', 'heldout'] as const).map((p, i) => ({
      env: 'D' as const, paraphrases: p, objects: 'all' as const, seconds: 1,
      chains: chainResult([0.7 - 0.5 * i, 0.1, 0, 0, 0], { lift: taskStats(7, 10) }),
      first_task: taskStats(7 - 5 * i, 10),
      single: { per_task: { lift: taskStats(7, 10), stack: taskStats(0, 10) }, overall: taskStats(7, 20), env: 'D', seed: 0, paraphrases: p, objects: 'all', perTask: 10 },
    })),
    wall_s: 2, model_calls: 5, ms_per_call: 3,
  };
  const md = suiteTables(r);
  assert.match(md, /\| tiny · D · train · all \| 70\.0 \| 10\.0 \| 0\.0 \| 0\.0 \| 0\.0 \| 0\.80 \|/);
  assert.match(md, /\| Env \| Instructions \| Objects \| 1st task of chains \| Single-task overall \| lift \| stack \|/);
  assert.match(md, /\| D \| train \| all \| 7\/10 \(70%, 40-89\) \| 7\/20 \(35%, 18-57\) \| 7\/10 \(70%, 40-89\) \| 0\/10 \(0%, 0-28\) \|/);
  assert.match(md, /\| D \| heldout \| all \| 2\/10 \(20%, 6-51\) \|/);
  assert.match(md, /10 single-task episodes per kind/);
  assert.match(md, /Image mode: black/);
  assert.equal(taskCell(undefined), '-');
  assert.equal(taskCell(taskStats(0, 0)), '-');
});

test('evaluateSuite runs chains and single-task episodes per combination and writes every number', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'reconvla-eval-'));
  try {
    const json = join(dir, 'sub', 'eval.json');
    const tasks = ['lift', 'open_drawer', 'lamp_on', 'lamp_off'] as const;
    const r = await evaluateSuite(expertPolicy(), {
      envs: ['D'], chains: 1, perTask: 1, tasks: [...tasks], paraphrases: ['heldout'], objects: ['seen', 'unseen'], image: 'shuffled', maxSteps: 300, seed: 0, json, model: 'm', method: 'expert',
    }, false);
    assert.equal(r.rows.length, 2);
    for (const row of r.rows) {
      assert.deepEqual(row.chains?.success, [1, 1, 1, 1, 1]);
      assert.deepEqual(row.first_task && [row.first_task.successes, row.first_task.attempts], [1, 1]);
      assert.deepEqual(Object.keys(row.single!.per_task), [...tasks]);
      assert.equal(row.single!.overall.rate, 1);
      for (const k of Object.keys(row.chains!.per_task)) assert.ok((tasks as readonly string[]).includes(k), k);
    }
    assert.deepEqual(r.rows.map((x) => x.objects), ['seen', 'unseen']);
    const back = JSON.parse(readFileSync(json, 'utf8')) as EvalSuiteResult;
    assert.deepEqual(back.options, r.options);
    assert.equal(back.model, 'm');
    assert.ok(back.wall_s >= 0);
    assert.deepEqual(back.rows[0]!.single!.overall.ci95, r.rows[0]!.single!.overall.ci95);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runEvaluation drives a (tiny, untrained) ReconVLA: the run\'s tasks by default, model calls counted', async () => {
  const model = new ReconVLA(parseReconVLAConfig({ ...testModelJson(), tasks: ['lift', 'open_drawer'] }), { backend: await createBackend('wasm'), generator: new Generator(1) });
  initFromScratch(model, new Generator(1));
  const r = await runEvaluation(model, { envs: ['D'], chains: 1, perTask: 1, tasks: null, paraphrases: ['heldout'], objects: ['all'], image: 'black', maxSteps: 4, seed: 0 }, false);
  assert.deepEqual(r.options.tasks, ['lift', 'open_drawer']);
  assert.deepEqual(Object.keys(r.rows[0]!.single!.per_task), ['lift', 'open_drawer']);
  assert.ok(r.model_calls >= 4 && r.ms_per_call > 0, `${r.model_calls} calls`);
});
