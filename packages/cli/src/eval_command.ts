// `reconvla eval`: closed-loop evaluation of a trained run, for every combination of
// environment x instruction set x object split: long-horizon chains (the paper's Table 3) and
// single-task episodes (every task kind N times), each rate with its 95% Wilson interval, and
// image ablations (black or shuffled cameras) to check that the policy looks at all.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { backendArg, choiceArg, envArg, envListArg, intArg, taskListArg, type BackendFlag } from './args.ts';
import { createBackend } from '@reconvla/core';
import type { ActionDecoding, ReconVLA } from '@reconvla/reconvla';
import type { GroundingSource } from '@reconvla/reconvla/sim';

export const DECODINGS = ['argmax', 'median', 'mean'] as const;
/** Where a grounding model's box centres come from (@reconvla/reconvla/sim's GroundingSource; listed here so the CLI starts without the model packages). */
export const GROUNDING_SOURCES = ['model', 'locator', 'oracle'] as const satisfies readonly GroundingSource[];
/** The policy's decoding unless --decoding says otherwise (measured in docs/reconvla.md). */
export const DEFAULT_DECODING: ActionDecoding = 'argmax';
import {
  IMAGE_MODES, TASK_KINDS, evaluate, evaluateTasks, parseEnvList, parseEnvName, resultTable, taskStats, withImageMode,
  type EnvName, type EvalResult, type ImageMode, type ObjectSplit, type Paraphrases, type Policy, type SingleTaskResult,
  type TaskKind, type TaskStats,
} from '@reconvla/tabletop';

export interface EvalSuiteOptions {
  envs: EnvName[];
  /** Chains of 5 tasks per combination (0: none). */
  chains: number;
  /** Single-task episodes per task kind and combination (0: none). */
  perTask: number;
  /** Task kinds of the chains and the single-task episodes; null: the run's (model.config.tasks; null there: all). */
  tasks: TaskKind[] | null;
  paraphrases: Paraphrases[];
  objects: ObjectSplit[];
  image: ImageMode;
  /** Steps a policy gets per task. */
  maxSteps: number;
  /** Names the chains, the episodes and the unrelated scene of `shuffled`. */
  seed: number;
  /** Write the result here (no file when absent). */
  json?: string;
  /** Where the model was loaded from, recorded in the JSON. */
  model?: string;
  /** Row label of the chain table. */
  method?: string;
  /** How the policy turns bin probabilities into an action (predict.ts; default DEFAULT_DECODING). */
  decoding?: ActionDecoding;
  /** Where a grounding model's box centres come from (policy.ts; default 'model'): 'oracle' is a diagnostic. */
  groundingSource?: GroundingSource;
}

export interface EvalSuiteRow {
  env: EnvName;
  paraphrases: Paraphrases;
  objects: ObjectSplit;
  /** The chain evaluation (null with chains = 0). */
  chains: EvalResult | null;
  /** Chains whose first task succeeded, with its interval (null with chains = 0). */
  first_task: TaskStats | null;
  /** The single-task episodes (null with perTask = 0). */
  single: SingleTaskResult | null;
  seconds: number;
}

export interface EvalSuiteResult {
  model: string | null;
  method: string;
  options: {
    envs: EnvName[]; chains: number; per_task: number; tasks: TaskKind[]; paraphrases: Paraphrases[]; objects: ObjectSplit[];
    image: ImageMode; max_steps: number; seed: number; decoding: ActionDecoding; grounding_source?: GroundingSource;
  };
  rows: EvalSuiteRow[];
  wall_s: number;
  model_calls: number;
  ms_per_call: number;
}

// ---- flags ----





/** The task kinds to evaluate: the flag's, else the run's (checked: an old config may name a kind no longer here). */
export function resolveTasks(tasks: TaskKind[] | null, modelTasks: readonly string[] | null): TaskKind[] {
  if (tasks) return tasks;
  if (!modelTasks) return [...TASK_KINDS];
  const bad = modelTasks.filter((t) => !(TASK_KINDS as readonly string[]).includes(t));
  if (bad.length > 0) throw new Error(`the run's config.json names unknown tasks ${bad.join(', ')}; pass --tasks (one or more of ${TASK_KINDS.join(', ')})`);
  if (modelTasks.length === 0) throw new Error('the run\'s config.json has an empty task list; pass --tasks');
  return [...modelTasks] as TaskKind[];
}

export interface EvalFlags {
  /** A run folder, or (model) an exported model folder: exactly one. */
  run?: string;
  model?: string;
  envs?: EnvName[];
  env?: EnvName;
  chains: number;
  perTask: number;
  tasks?: TaskKind[];
  paraphrases: Paraphrases | 'both';
  objects: ObjectSplit | 'both';
  image: ImageMode;
  maxSteps: number;
  seed: number;
  json?: string;
  backend: BackendFlag;
  decoding?: ActionDecoding;
  groundingSource?: GroundingSource;
}

/** The parsed command line as options: `--env X` is `--envs X`, "both" is both sets/splits. */
export function optionsFromFlags(f: EvalFlags): EvalSuiteOptions {
  if (f.env && f.envs) throw new Error('give --env or --envs, not both (--env D is --envs D)');
  if (f.chains === 0 && f.perTask === 0) throw new Error('nothing to evaluate: --chains and --per-task are both 0');
  if ((f.run === undefined) === (f.model === undefined)) throw new Error('give --run RUN (a run folder) or --model DIR (an exported model folder), one of them');
  return {
    envs: f.envs ?? [f.env ?? 'D'],
    chains: f.chains,
    perTask: f.perTask,
    tasks: f.tasks ?? null,
    paraphrases: f.paraphrases === 'both' ? ['train', 'heldout'] : [f.paraphrases],
    // "both" are the two disjoint splits; "all" is the one split mixing them.
    objects: f.objects === 'both' ? ['seen', 'unseen'] : [f.objects],
    image: f.image,
    ...(f.decoding ? { decoding: f.decoding } : {}),
    ...(f.groundingSource && f.groundingSource !== 'model' ? { groundingSource: f.groundingSource } : {}),
    maxSteps: f.maxSteps,
    seed: f.seed,
    json: f.json ?? path.join((f.run ?? f.model)!, 'eval.json'),
  };
}

// ---- tables ----

const pct0 = (x: number): string => (100 * x).toFixed(0);

/** "7/10 (70%, 40-89)": successes/attempts (rate, 95% interval), in percent. */
export function taskCell(st: TaskStats | undefined): string {
  if (!st || st.attempts === 0) return '-';
  return `${st.successes}/${st.attempts} (${pct0(st.rate)}%, ${pct0(st.ci95[0])}-${pct0(st.ci95[1])})`;
}

const label = (r: EvalSuiteRow): string => `${r.env} · ${r.paraphrases} · ${r.objects}`;

/**
 * The chain table (Table 3, one row per combination) and one table with a row per combination:
 * the chains' first-task rate, the single-task overall rate, and per task kind its single-task
 * episodes (or, without them, its attempts within chains), each with its 95% interval.
 */
export function suiteTables(r: EvalSuiteResult): string {
  const out: string[] = [];
  const chained = r.rows.filter((row) => row.chains !== null);
  if (chained.length > 0) {
    out.push(resultTable(chained.map((row) => ({ method: `${r.method} · ${label(row)}`, result: row.chains! }))), '');
  }
  const single = r.options.per_task > 0;
  const head = ['Env', 'Instructions', 'Objects', '1st task of chains', 'Single-task overall', ...r.options.tasks];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 3 ? ':--' : '--:')).join('|')}|`];
  for (const row of r.rows) {
    const perTask = single ? row.single?.per_task : row.chains?.per_task;
    const cells = [row.env, row.paraphrases, row.objects, taskCell(row.first_task ?? undefined), taskCell(row.single?.overall), ...r.options.tasks.map((k) => taskCell(perTask?.[k]))];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  out.push(lines.join('\n'));
  out.push(single
    ? `\nPer task: ${r.options.per_task} single-task episode${r.options.per_task === 1 ? '' : 's'} per kind. Cells: successes/attempts (rate, 95% Wilson interval), in %.`
    : '\nPer task: attempts within chains (a task is tried only when the ones before it succeeded). Cells: successes/attempts (rate, 95% Wilson interval), in %.');
  if (r.options.image !== 'normal') out.push(`Image mode: ${r.options.image} (the policy did not see its own camera images).`);
  if (r.options.grounding_source === 'oracle') out.push('Grounding oracle: the policy was told the true gaze box centres (a diagnostic, not a policy\'s result).');
  if (r.options.grounding_source === 'locator') out.push('Grounding from the locator: the static view\'s box centre was the locator\'s keypoint.');
  return out.join('\n');
}

// ---- running ----

/** Every env x instruction set x object split, in that order. */
function combinations(o: EvalSuiteOptions): { env: EnvName; paraphrases: Paraphrases; objects: ObjectSplit }[] {
  return o.envs.flatMap((env) => o.paraphrases.flatMap((paraphrases) => o.objects.map((objects) => ({ env, paraphrases, objects }))));
}

function checkSuiteOptions(o: EvalSuiteOptions): void {
  if (o.envs.length === 0) throw new Error('no environment to evaluate on');
  for (const e of o.envs) parseEnvName(e);
  if (!Number.isInteger(o.chains) || o.chains < 0) throw new Error(`chains must be an integer >= 0, got ${o.chains}`);
  if (!Number.isInteger(o.perTask) || o.perTask < 0) throw new Error(`perTask must be an integer >= 0, got ${o.perTask}`);
  if (o.chains === 0 && o.perTask === 0) throw new Error('nothing to evaluate: chains and perTask are both 0');
  if (o.paraphrases.length === 0 || o.objects.length === 0) throw new Error('no instruction set or no object split to evaluate');
  if (!(IMAGE_MODES as readonly string[]).includes(o.image)) throw new Error(`unknown image mode "${o.image}": expected ${IMAGE_MODES.join(', ')}`);
}

/**
 * Evaluate `policy` on every combination; `counters` reports model calls and their time (the
 * ReconVLA policy's onPredict). Prints the tables and a progress bar when `print`.
 */
export async function evaluateSuite(policy: Policy, o: EvalSuiteOptions & { tasks: TaskKind[] }, print = true,
  counters: { calls: () => number; ms: () => number } = { calls: () => 0, ms: () => 0 }): Promise<EvalSuiteResult> {
  checkSuiteOptions(o);
  const combos = combinations(o);
  // Chains over every kind are left unrestricted, so they are the very chains evaluate() always drew.
  const restrict = o.tasks.length < TASK_KINDS.length ? o.tasks : undefined;
  const perCombo = o.chains + o.perTask * o.tasks.length;
  const bar = print
    ? new cliProgress.SingleBar({ format: 'eval [{bar}] {value}/{total} chains+episodes | {what} | eta {eta_formatted}', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(combos.length * perCombo, 0, { what: '' });
  const t0 = Date.now();
  const rows: EvalSuiteRow[] = [];
  try {
    for (const [i, c] of combos.entries()) {
      const t1 = Date.now();
      const base = i * perCombo;
      const what = `env ${c.env}, ${c.paraphrases}, ${c.objects}`;
      const scene = { env: c.env, paraphrases: c.paraphrases, objects: c.objects, maxStepsPerTask: o.maxSteps, seed: o.seed };
      let chains: EvalResult | null = null, single: SingleTaskResult | null = null;
      if (o.chains > 0) {
        chains = await evaluate(withImageMode(policy, o.image, o.seed), {
          ...scene, chains: o.chains, ...(restrict ? { tasks: restrict } : {}),
          onChain: (done) => bar?.update(base + done, { what: `chains, ${what}` }),
        });
      }
      if (o.perTask > 0) {
        single = await evaluateTasks(withImageMode(policy, o.image, o.seed), {
          ...scene, tasks: o.tasks, perTask: o.perTask,
          onEpisode: (done) => bar?.update(base + o.chains + done, { what: `single tasks, ${what}` }),
        });
      }
      const first = chains ? taskStats(Math.round(chains.success[0]! * chains.chains), chains.chains) : null;
      rows.push({ ...c, chains, first_task: first, single, seconds: (Date.now() - t1) / 1000 });
    }
  } finally {
    bar?.stop();
  }
  const calls = counters.calls();
  const result: EvalSuiteResult = {
    model: o.model ?? null,
    method: o.method ?? 'policy',
    options: { envs: o.envs, chains: o.chains, per_task: o.perTask, tasks: o.tasks, paraphrases: o.paraphrases, objects: o.objects, image: o.image, max_steps: o.maxSteps, seed: o.seed, decoding: o.decoding ?? DEFAULT_DECODING, grounding_source: o.groundingSource ?? 'model' },
    rows,
    wall_s: (Date.now() - t0) / 1000,
    model_calls: calls,
    ms_per_call: calls > 0 ? counters.ms() / calls : 0,
  };
  if (print) {
    console.log(suiteTables(result));
    console.log(`\nevaluated ${combos.length} combination(s) in ${result.wall_s.toFixed(0)} s (${calls} model calls, ${result.ms_per_call.toFixed(1)} ms each)`);
  }
  if (o.json) {
    mkdirSync(path.dirname(o.json), { recursive: true });
    writeFileSync(o.json, JSON.stringify(result, null, 2) + '\n');
    if (print) console.log(`wrote ${o.json}`);
  }
  return result;
}

/** Evaluate a ReconVLA model (used by `reconvla eval` and `reconvla demo`). */
export async function runEvaluation(model: ReconVLA, o: EvalSuiteOptions, print = true): Promise<EvalSuiteResult> {
  // Loaded here, not when the CLI starts: the model packages take seconds to import.
  const S = await import('@reconvla/reconvla/sim');
  let calls = 0, ms = 0;
  const decoding = o.decoding ?? DEFAULT_DECODING;
  const policy = S.reconvlaPolicy(model, { onPredict: (t) => { calls++; ms += t; }, decoding, ...(o.groundingSource ? { grounding: o.groundingSource } : {}) });
  const tasks = resolveTasks(o.tasks, model.config.tasks);
  return evaluateSuite(policy, { ...o, tasks }, print, { calls: () => calls, ms: () => ms });
}

export function registerEval(program: Command): void {
  program.command('eval')
    .description('closed-loop evaluation of a trained run: chains of 5 tasks (Table 3) and single-task episodes, with 95% intervals, per env x instruction set x object split')
    .option('--run <dir>', 'run folder')
    .option('--model <dir>', 'an exported model folder (reconvla export, or the PyTorch twin\'s), instead of --run')
    .option('--envs <list>', 'environments, e.g. D or A,B,C,D (default D)', (v: string) => {
      try { return parseEnvList(v); } catch (e) { throw new InvalidArgumentError(`${(e as Error).message}.`); }
    })
    .option('--env <name>', 'one environment (the same as --envs NAME)', envArg)
    .option('--chains <n>', 'chains of 5 tasks per combination (0: none)', intArg('chains', 0), 20)
    .option('--per-task <n>', 'single-task episodes per task kind and combination (0: none)', intArg('per-task', 0), 0)
    .option('--tasks <list>', 'all, or task kinds a,b,c (default: the run\'s tasks, all when it names none)', taskListArg)
    .option('--paraphrases <set>', 'instructions: heldout (the benchmark), train (a sanity check) or both', choiceArg('paraphrases', ['train', 'heldout', 'both'] as const), 'heldout' as const)
    .option('--objects <split>', 'objects: all (seen and unseen mixed), seen, unseen, or both (seen and unseen separately)', choiceArg('objects', ['seen', 'unseen', 'all', 'both'] as const), 'all' as const)
    .option('--decoding <how>', 'bin probabilities to an action: argmax (upstream), median or mean', choiceArg('decoding', DECODINGS), DEFAULT_DECODING)
    .option('--image <mode>', 'camera images the policy sees: normal, black, or shuffled (the previous episode\'s)', choiceArg('image', IMAGE_MODES), 'normal' as const)
    .option('--grounding-source <from>', 'runs trained with --grounding: the box centres fed before the actions are the model\'s own (model), the locator\'s for the static view (locator), or the true ones (oracle: a diagnostic, is the failure finding the target or acting on it?)', choiceArg('grounding-source', GROUNDING_SOURCES), 'model' as GroundingSource)
    .option('--max-steps <n>', 'steps per task', intArg('max-steps', 1), 300)
    .option('--seed <n>', 'names the chains and episodes (the same seed gives every run the same ones)', intArg('seed', 0), 0)
    .option('--json <file>', 'write every number here (default RUN/eval.json)')
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', choiceArg('backend', ['cpu', 'wasm', 'webgpu', 'auto'] as const), 'wasm' as const)
    .action(async (f: EvalFlags) => {
      const options = optionsFromFlags(f); // bad combinations fail before the model loads
      const R = await import('@reconvla/reconvla');
      const { model, from } = R.loadRunOrFolder(f, await createBackend(f.backend));
      console.log(`model from ${from}`);
      await runEvaluation(model, { ...options, model: from, method: `ReconVLA (${path.basename(path.resolve((f.run ?? f.model)!))})` });
    });
}
