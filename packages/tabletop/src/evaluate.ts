// Closed-loop evaluation on long-horizon chains, reported like Table 3 of the ReconVLA
// paper (CALVIN ABC->D): the success rate of completing 1..5 tasks in a row, and the
// average number of tasks completed per chain.
import { chainAt, type ChainOptions } from './chains.ts';
import { ENVS, type EnvName } from './envs.ts';
import { TabletopEnv } from './env.ts';
import { instructionFor, type Paraphrases } from './language.ts';
import type { Observation } from './observation.ts';
import type { Policy } from './policy.ts';
import type { CameraSizes } from './render.ts';
import { Rng, deriveSeed } from './rng.ts';
import type { ObjectSplit } from './catalog.ts';
import { parseTaskKind, type TaskKind, type TaskSpec } from './tasks.ts';
import { wilson } from './wilson.ts';

export interface EvalOptions extends CameraSizes {
  env: EnvName;
  /** Number of chains (each 5 tasks). */
  chains: number;
  /** Steps a policy gets per task before it counts as failed (default 300). */
  maxStepsPerTask?: number;
  /** Names the set of chains: the same seed gives the same chains to every policy. */
  seed: number;
  distractors?: number;
  confusers?: number;
  objects?: ObjectSplit;
  /** Instruction set (default 'heldout': paraphrases never used for training). */
  paraphrases?: Paraphrases;
  /** Sample only these task kinds in the chains (default: all 17; see ChainOptions.tasks). */
  tasks?: readonly TaskKind[];
  /** Render camera images (default true); a policy that does not look (expert, random) can skip it. */
  render?: boolean;
  /** Called after every step, e.g. to record a video of some chains. */
  onStep?: (info: StepInfo) => void;
  /** Called after each chain (progress bars). */
  onChain?: (done: number, total: number) => void;
}

export interface StepInfo {
  chain: number;
  task: number;
  instruction: string;
  observation: Observation;
  success: boolean;
}

export interface TaskStats {
  attempts: number;
  successes: number;
  rate: number;
  /** 95% Wilson interval of the rate ([0, 1] when there were no attempts). */
  ci95: [number, number];
}

/** Stats of `successes` out of `attempts`, with the rate and its 95% interval. */
export function taskStats(successes: number, attempts: number): TaskStats {
  return { attempts, successes, rate: attempts ? successes / attempts : 0, ci95: wilson(successes, attempts) };
}

export interface EvalResult {
  /** Fraction of chains whose first k tasks all succeeded, k = 1..5. */
  success: number[];
  /** Mean number of tasks completed in a row. */
  avg_len: number;
  /** Tasks completed in a row in each chain, in chain order (paired comparisons between policies use it). */
  lengths: number[];
  per_task: Record<string, TaskStats>;
  chains: number;
  env: EnvName;
  seed: number;
}

export function checkEvalOptions(o: EvalOptions): void {
  if (!(o.env in ENVS)) throw new Error(`unknown environment "${String(o.env)}": expected one of A, B, C, D`);
  if (!Number.isInteger(o.chains) || o.chains < 1) throw new Error(`chains must be a positive integer, got ${o.chains}`);
  const m = o.maxStepsPerTask ?? 300;
  if (!Number.isInteger(m) || m < 1) throw new Error(`maxStepsPerTask must be a positive integer, got ${m}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error(`seed must be a non-negative integer, got ${o.seed}`);
  checkTaskKinds(o.tasks);
}

/** A task restriction must name known kinds, at least one. */
export function checkTaskKinds(tasks: readonly string[] | undefined): void {
  if (tasks === undefined) return;
  if (tasks.length === 0) throw new Error('tasks: the list of task kinds is empty');
  for (const t of tasks) parseTaskKind(t);
}

export async function evaluate(policy: Policy, opts: EvalOptions): Promise<EvalResult> {
  checkEvalOptions(opts);
  const maxSteps = opts.maxStepsPerTask ?? 300;
  const chainOpts: ChainOptions = {
    env: opts.env, distractors: opts.distractors ?? 2, confusers: opts.confusers ?? 0, objects: opts.objects ?? 'all',
    ...(opts.tasks ? { tasks: opts.tasks } : {}),
  };
  const env = new TabletopEnv({ ...chainOpts, ...opts, render: opts.render !== false });
  const inRow = [0, 0, 0, 0, 0];
  let totalLen = 0;
  const lengths: number[] = [];
  const perTask: Record<string, { attempts: number; successes: number }> = {};
  for (let c = 0; c < opts.chains; c++) {
    const chain = chainAt(opts.seed, c, chainOpts);
    const words = new Rng(deriveSeed(opts.seed ^ 0x5bd1e995, c));
    env.setState(chain.state);
    let completed = 0;
    for (let t = 0; t < chain.tasks.length; t++) {
      const spec: TaskSpec = chain.tasks[t]!;
      const ok = await runTask(env, policy, spec, c, t, instructionFor(env.state, spec, words, opts.paraphrases ?? 'heldout'), maxSteps, opts.onStep);
      const st = (perTask[spec.kind] ??= { attempts: 0, successes: 0 });
      st.attempts++;
      if (!ok) break;
      st.successes++;
      completed++;
    }
    for (let k = 0; k < completed && k < inRow.length; k++) inRow[k]!++;
    totalLen += completed;
    lengths.push(completed);
    opts.onChain?.(c + 1, opts.chains);
  }
  const stats: Record<string, TaskStats> = {};
  for (const [kind, st] of Object.entries(perTask)) stats[kind] = taskStats(st.successes, st.attempts);
  return { success: inRow.map((n) => n / opts.chains), avg_len: totalLen / opts.chains, lengths, per_task: stats, chains: opts.chains, env: opts.env, seed: opts.seed };
}

/**
 * Run one task in closed loop until its success detector fires or the step budget runs out
 * (shared with the single-task episodes of single_task.ts).
 */
export async function runTask(env: TabletopEnv, policy: Policy, spec: TaskSpec, chain: number, taskIndex: number, instruction: string,
  maxSteps: number, onStep: EvalOptions['onStep']): Promise<boolean> {
  try {
    env.setTask(spec, false);
  } catch {
    // The previous tasks succeeded but left a state where this one cannot be asked
    // (e.g. the policy put an object where the expert would not): a failure.
    return false;
  }
  await policy.reset?.({ chain, task: taskIndex });
  let obs = env.observe();
  for (let s = 0; s < maxSteps; s++) {
    const action = await policy(obs, instruction);
    const r = env.step(action);
    obs = r.observation;
    onStep?.({ chain, task: taskIndex, instruction, observation: obs, success: r.success });
    if (r.success) return true;
  }
  return false;
}

const pct = (x: number): string => (100 * x).toFixed(1);

/** The result as a Markdown table shaped like the paper's Table 3. */
export function resultTable(rows: ReadonlyArray<{ method: string; result: EvalResult }>): string {
  const lines = [
    '| Method | Tasks completed in a row: 1 | 2 | 3 | 4 | 5 | Avg. Len. |',
    '|:--|--:|--:|--:|--:|--:|--:|',
  ];
  for (const { method, result } of rows) {
    lines.push(`| ${method} | ${result.success.map(pct).join(' | ')} | ${result.avg_len.toFixed(2)} |`);
  }
  return lines.join('\n');
}

/** Per-task success as a Markdown table (in chains a task is only tried when the ones before it succeeded). */
export function perTaskTable(result: Pick<EvalResult, 'per_task'>): string {
  const lines = ['| Task | Success | Attempts | Rate (%) | 95% CI (%) |', '|:--|--:|--:|--:|--:|'];
  for (const [k, v] of Object.entries(result.per_task).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| ${k} | ${v.successes} | ${v.attempts} | ${pct(v.rate)} | ${pct(v.ci95[0])}-${pct(v.ci95[1])} |`);
  }
  return lines.join('\n');
}
