// `reconvla experiment`: every variant x seed trained on the same demonstrations and evaluated on
// the same chains of env D, each run in its own folder with one JSON of every number. Resumable:
// a run with its result.json is skipped, a run with checkpoints continues from the newest.
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createBackend, writeJsonAtomic } from '@reconvla/core';
import { generateDataset, type EnvName, type ObjectSplit, type Paraphrases } from '@reconvla/tabletop';
import type { BackendFlag } from '../args.ts';
import { runEvaluation, type EvalSuiteResult } from '../eval_command.ts';
import { parseTrainLog } from '../plot.ts';
import type { ExperimentPreset } from '../presets.ts';
import { loadLib, presetTrainFlags, runTraining, trainConfig, writeAttention, writeDataset, writeReconstructions, type TrainFlags } from '../reconvla_commands.ts';
import { heldOutEnvs, scoreHeldOut, writeHeldOutData, type HeldOutResult } from './heldout.ts';
import type { Variant } from './variants.ts';

export const RUN_FORMAT = 'reconvla-experiment-run/1';

/** One evaluated combination of a run: chains on env D with one instruction set and object split. */
export interface RunEvalRow {
  env: EnvName;
  paraphrases: Paraphrases;
  objects: ObjectSplit;
  chains: number;
  /** Fraction of chains with the first k tasks done, k = 1..5. */
  success: number[];
  avg_len: number;
  /** Tasks done in a row per chain, in chain order: the same chains for every run. */
  lengths: number[];
}

/** `runs/<name>/result.json`: everything the report needs, so it is re-created without retraining. */
export interface RunResult {
  format: typeof RUN_FORMAT;
  variant: string;
  description: string;
  seed: number;
  preset: string;
  commit: string | null;
  backend: string;
  /** The train flags the run used (the variant applied to the preset). */
  flags: Record<string, unknown>;
  train_s: number;
  eval_s: number;
  /** lm and vm loss records of log.jsonl (global step, stage). */
  curve: { stage: string; step: number; metric: string; value: number }[];
  eval: RunEvalRow[];
  /** The action and text tokens' attention over the first view inside the gaze box, per env-D frame; and the boxes' area share (uniform attention). */
  attention: { shares: number[]; areas: number[] };
  /** Pictures, relative to the run folder (null: the variant has no reconstructive branch). */
  pictures: { attention: string; reconstruction: string | null };
  /** Teacher-forced action accuracy on demonstrations of the evaluation env, then of each training env (absent in runs finished before it existed, until a rerun adds it). */
  heldout?: HeldOutResult[];
}

export interface ExperimentOptions {
  out: string;
  preset: ExperimentPreset;
  variants: Variant[];
  seeds: number[];
  backend: BackendFlag;
  /** Overrides the preset's fine-tuning steps (tests). */
  finetuneSteps?: number;
  /** The command line, kept in experiment.json (the first one; the report quotes it). */
  command?: string;
}

export function runFolder(variant: string, seed: number): string {
  return `${variant.replace(/[^A-Za-z0-9._-]/g, '_')}-seed${seed}`;
}

export function gitCommit(): string | null {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    return null;
  }
}

const hms = (s: number): string => `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;

/** Seconds one run of the preset should take here (training steps and evaluated task steps, at the preset's measured rates). */
export function runEstimateSeconds(p: ExperimentPreset, finetuneSteps?: number): number {
  const st = p.base.stages;
  const steps = st.vae + st.pretrain + (finetuneSteps ?? st.finetune);
  const combos = p.eval.paraphrases.length * p.eval.objects.length;
  // A failing chain runs its first task to the step budget; that bounds the evaluation.
  const evalCalls = combos * p.eval.chains * p.eval.maxSteps;
  return steps * p.estimate.secondsPerStep + evalCalls * p.estimate.secondsPerCall + p.estimate.overheadSeconds;
}

function progressLine(done: number, total: number, elapsed: number, perRun: number): string {
  const width = 24, filled = Math.round((width * done) / total);
  const eta = (total - done) * perRun;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} runs | elapsed ${hms(elapsed)} | eta ${hms(eta)}`;
}

export async function runExperiment(o: ExperimentOptions): Promise<RunResult[]> {
  await loadLib();
  const p = o.preset;
  mkdirSync(o.out, { recursive: true });
  const total = o.variants.length * o.seeds.length;
  const estimate = runEstimateSeconds(p, o.finetuneSteps);
  console.log(`experiment ${o.out}: preset ${p.name} (${p.description})`);
  console.log(`${o.variants.length} variant(s) x ${o.seeds.length} seed(s) = ${total} runs; estimate ~${hms(estimate)} per run, ~${hms(estimate * total)} in all (rates measured on a 2-core machine: ${p.estimate.measured})`);
  checkFinishedRuns(o); // before anything in the folder is rewritten
  // `started` and `command` stay the first invocation's (the report quotes them); a resume adds to `resumed`.
  const expFile = path.join(o.out, 'experiment.json');
  const before = existsSync(expFile) ? JSON.parse(readFileSync(expFile, 'utf8')) as { started?: string; resumed?: string[]; command?: string } : null;
  const now = new Date().toISOString();
  writeJsonAtomic(expFile, {
    preset: p, variants: o.variants.map((v) => ({ name: v.name, description: v.description })), seeds: o.seeds,
    backend: o.backend, finetune_steps: o.finetuneSteps ?? p.base.stages.finetune, commit: gitCommit(),
    command: before?.command ?? o.command ?? null, started: before?.started ?? now, resumed: before?.started ? [...(before.resumed ?? []), now] : [],
  });

  // The same demonstrations, evaluation chains and picture frames for every run.
  const data = path.join(o.out, 'data');
  await writeDataset(data, { ...p.base.data, seed: p.dataSeed });
  const frames = path.join(o.out, 'frames-d');
  if (!existsSync(path.join(frames, 'dataset.json'))) {
    generateDataset({ out: frames, envs: [p.eval.env], episodes: p.frames.episodes, seed: p.dataSeed + 1, noise: 0, randomStart: p.base.data.randomStart, ...(p.base.data.tasks ? { tasks: p.base.data.tasks } : {}) });
  }
  writeHeldOutData(o.out, p);

  const backend = await createBackend(o.backend);
  const results: RunResult[] = [];
  const t0 = Date.now();
  let ran = 0, ranSeconds = 0, done = 0;
  for (const variant of o.variants) {
    for (const seed of o.seeds) {
      const dir = path.join(o.out, 'runs', runFolder(variant.name, seed));
      const file = path.join(dir, 'result.json');
      const perRun = ran > 0 ? ranSeconds / ran : estimate;
      console.log(progressLine(done, total, (Date.now() - t0) / 1000, perRun));
      if (existsSync(file)) {
        console.log(`${variant.name}, seed ${seed}: finished before (${file}), skipped`);
        results.push(await withHeldOut(readRunResult(file), file, o, backend));
        done++;
        continue;
      }
      const t1 = Date.now();
      results.push(await runOne(o, variant, seed, dir, data, frames, backend));
      ran++;
      done++;
      ranSeconds += (Date.now() - t1) / 1000;
    }
  }
  console.log(progressLine(done, total, (Date.now() - t0) / 1000, 0));
  return results;
}

/** The train flags of one variant x seed of this experiment. */
function runFlags(o: ExperimentOptions, variant: Variant, seed: number): TrainFlags {
  const dir = path.join(o.out, 'runs', runFolder(variant.name, seed));
  return variant.apply(presetTrainFlags(o.preset.base, { data: path.join(o.out, 'data'), out: dir, backend: o.backend, seed, finetuneSteps: o.finetuneSteps }));
}

/**
 * Refuses to resume into a folder whose finished runs were trained with other flags (another
 * preset, --finetune-steps, a changed variant): skipping them would mix two experiments in one
 * report. Paths and the backend may differ (a moved folder, another machine).
 */
export function checkFinishedRuns(o: ExperimentOptions): void {
  const ignored = new Set(['out', 'data', 'backend']);
  const problems: string[] = [];
  for (const variant of o.variants) {
    for (const seed of o.seeds) {
      const file = path.join(o.out, 'runs', runFolder(variant.name, seed), 'result.json');
      if (!existsSync(file)) continue;
      const had = readRunResult(file).flags, want = runFlags(o, variant, seed) as unknown as Record<string, unknown>;
      const keys = [...new Set([...Object.keys(had), ...Object.keys(want)])].filter((k) => !ignored.has(k));
      const differ = keys.filter((k) => JSON.stringify(had[k]) !== JSON.stringify(want[k]));
      if (differ.length) problems.push(`${file}: ${differ.map((k) => `${k} ${JSON.stringify(had[k])} (now ${JSON.stringify(want[k])})`).join(', ')}`);
    }
  }
  if (problems.length) {
    throw new Error(`${o.out} holds finished runs trained with other flags than this experiment's; use another --out, or remove those runs to retrain them:\n  ${problems.join('\n  ')}`);
  }
}

async function runOne(o: ExperimentOptions, variant: Variant, seed: number, dir: string, data: string, frames: string, backend: Awaited<ReturnType<typeof createBackend>>): Promise<RunResult> {
  const p = o.preset;
  const R = await import('@reconvla/reconvla');
  const flags = runFlags(o, variant, seed);
  console.log(`\n== ${variant.name} (${variant.description}), seed ${seed} -> ${dir}`);
  const resume = R.latestCheckpoint(path.join(dir, 'checkpoints')) !== null;
  if (resume) console.log(`resuming ${dir} from its newest checkpoint`);
  const t0 = Date.now();
  const model = await runTraining(trainConfig(flags), dir, backend, resume);
  const trainS = (Date.now() - t0) / 1000;

  const t1 = Date.now();
  const e = p.eval;
  const suite: EvalSuiteResult = await runEvaluation(model, {
    envs: [e.env], chains: e.chains, perTask: 0, tasks: null, paraphrases: e.paraphrases, objects: e.objects, image: 'normal',
    maxSteps: e.maxSteps, seed: e.seed, json: path.join(dir, 'eval.json'), model: path.join(dir, 'model'), method: `${variant.name}, seed ${seed}`,
  });
  const evalS = (Date.now() - t1) / 1000;

  const pictures = path.join(dir, 'pictures');
  mkdirSync(pictures, { recursive: true });
  const attention = await writeAttention(model, frames, pictures, p.frames.count, p.frames.seed);
  const recon = model.config.ablation.recon ? await writeReconstructions(model, frames, pictures, p.frames.count, p.frames.seed) : null;

  const heldout = await scoreHeldOut(model, o.out, p, gitCommit());
  const curve = parseTrainLog(readFileSync(path.join(dir, 'log.jsonl'), 'utf8'), path.join(dir, 'log.jsonl')).points.filter((pt) => pt.metric === 'lm' || pt.metric === 'vm');
  const result: RunResult = {
    format: RUN_FORMAT, variant: variant.name, description: variant.description, seed, preset: p.name, commit: gitCommit(), backend: backend.name,
    flags: { ...flags }, train_s: trainS, eval_s: evalS, curve,
    eval: suite.rows.map((r) => {
      if (!r.chains) throw new Error(`${dir}: the evaluation of env ${r.env} ran no chains`);
      return { env: r.env, paraphrases: r.paraphrases, objects: r.objects, chains: r.chains.chains, success: r.chains.success, avg_len: r.chains.avg_len, lengths: r.chains.lengths };
    }),
    attention: { shares: attention.gazeShares ?? [], areas: attention.gazeAreas ?? [] },
    pictures: { attention: path.relative(dir, attention.file), reconstruction: recon ? path.relative(dir, recon.file) : null },
    heldout,
  };
  writeJsonAtomic(path.join(dir, 'result.json'), result);
  return result;
}

/** A finished run without the held-out measure of every env (it predates it) gets it from its saved model; the rest of its JSON is kept as it was. */
async function withHeldOut(r: RunResult, file: string, o: ExperimentOptions, backend: Awaited<ReturnType<typeof createBackend>>): Promise<RunResult> {
  const envs = heldOutEnvs(o.preset);
  if (Array.isArray(r.heldout) && r.heldout.map((h) => h.env).join() === envs.join()) return r;
  const R = await import('@reconvla/reconvla');
  const modelDir = path.join(path.dirname(file), 'model');
  if (!existsSync(modelDir)) throw new Error(`${file}: the run has no held-out measure and no saved model (${modelDir}) to compute it from`);
  const added: RunResult = { ...r, heldout: await scoreHeldOut(R.loadModelFolder(modelDir, backend), o.out, o.preset, gitCommit()) };
  writeJsonAtomic(file, added);
  console.log(`  added the held-out measure (${added.heldout!.map((h) => `env ${h.env} exact ${(100 * h.exact).toFixed(1)}%`).join(', ')}) to ${file}`);
  return added;
}

/** A run's result.json, checked enough that the report never averages garbage. */
export function readRunResult(file: string): RunResult {
  let r: RunResult;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as RunResult;
  } catch (e) {
    throw new Error(`${file}: not a JSON file (${(e as Error).message})`);
  }
  if (r.format !== RUN_FORMAT) throw new Error(`${file}: format "${String(r.format)}", expected "${RUN_FORMAT}"`);
  if (!Array.isArray(r.eval) || r.eval.some((row) => !Array.isArray(row.lengths) || row.lengths.length !== row.chains)) {
    throw new Error(`${file}: eval rows must each hold one length per chain`);
  }
  return r;
}
