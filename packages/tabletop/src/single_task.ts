// Single-task episodes: every task kind tried on its own, N times, from start states where it
// can be asked. Chains (evaluate.ts) only try a task when the ones before it succeeded, and
// their task mix follows what is feasible, so a weak policy's per-task numbers there rest on a
// handful of attempts, mostly of the easy kinds. Here each kind gets exactly N attempts.
import type { ObjectSplit } from './catalog.ts';
import { sampleTask, solveWithExpert } from './chains.ts';
import { TabletopEnv } from './env.ts';
import { ENVS, type EnvName } from './envs.ts';
import { checkTaskKinds, runTask, taskStats, type StepInfo, type TaskStats } from './evaluate.ts';
import { instructionFor, type Paraphrases } from './language.ts';
import type { Policy } from './policy.ts';
import type { CameraSizes } from './render.ts';
import { Rng, deriveSeed } from './rng.ts';
import { returnGripperHome, sampleScene, type SceneOptions } from './scene.ts';
import { TASK_KINDS, type TaskKind, type TaskSpec } from './tasks.ts';
import type { WorldState } from './world.ts';

export interface SingleTaskOptions extends CameraSizes {
  env: EnvName;
  /** The task kinds to try (each perTask times). */
  tasks: readonly TaskKind[];
  /** Attempts per task kind. */
  perTask: number;
  /** Names the set of episodes: the same seed gives every policy the same start states and instructions. */
  seed: number;
  /** Steps a policy gets before the attempt counts as failed (default 300). */
  maxStepsPerTask?: number;
  /** Instruction set (default 'heldout'). */
  paraphrases?: Paraphrases;
  /** Which colour/shape pairs the scenes show (default 'all'). */
  objects?: ObjectSplit;
  distractors?: number;
  confusers?: number;
  /** Render camera images (default true). */
  render?: boolean;
  /** Called after each episode (progress bars). */
  onEpisode?: (done: number, total: number) => void;
  /** Called after every step; `chain` is the attempt index k, `task` is 0. */
  onStep?: (info: StepInfo) => void;
}

export interface SingleTaskResult {
  /** Keyed by task kind, in the order of `tasks`. */
  per_task: Record<string, TaskStats>;
  /** All attempts together (every kind weighs the same: each has perTask attempts). */
  overall: TaskStats;
  env: EnvName;
  seed: number;
  paraphrases: Paraphrases;
  objects: ObjectSplit;
  perTask: number;
}

/** Where attempt k of a task kind starts, and the instruction it is given. */
export interface SingleTaskEpisode {
  state: WorldState;
  spec: TaskSpec;
  instruction: string;
}

/** Expert tasks run before giving up on a scene for a kind that is not feasible at its start. */
const WARMUP_TASKS = 3;
/** Scenes drawn per attempt before giving up. */
const MAX_SCENES = 50;
/**
 * The expert's step budget when checking a start state. Fixed, like the chains' (not the
 * policy's budget), so that the episodes do not change with --max-steps.
 */
const EXPERT_STEPS = 300;

export function checkSingleTaskOptions(o: SingleTaskOptions): void {
  if (!(o.env in ENVS)) throw new Error(`unknown environment "${String(o.env)}": expected one of A, B, C, D`);
  checkTaskKinds(o.tasks);
  if (!Number.isInteger(o.perTask) || o.perTask < 1) throw new Error(`perTask must be a positive integer, got ${o.perTask}`);
  const m = o.maxStepsPerTask ?? 300;
  if (!Number.isInteger(m) || m < 1) throw new Error(`maxStepsPerTask must be a positive integer, got ${m}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error(`seed must be a non-negative integer, got ${o.seed}`);
}

/**
 * Attempt k of `kind`, drawn from (seed, kind, k) alone. A scene is sampled; when no instance of
 * `kind` that the noise-free expert solves is there, up to WARMUP_TASKS other expert tasks are
 * run first (close_drawer needs an open drawer, take_from_bowl something in a bowl), as dataset
 * episodes start, each followed by the gripper's return home (returnGripperHome). The scene
 * options are those of the evaluation (env, objects, distractors).
 */
export function singleTaskEpisode(seed: number, kind: TaskKind, k: number, scene: SceneOptions,
  paraphrases: Paraphrases = 'heldout'): SingleTaskEpisode {
  // Salted so that attempt k does not start from chain k's scene; the kind's index in
  // TASK_KINDS names its stream (new kinds are appended there, so old streams stay put).
  const stream = deriveSeed(deriveSeed(seed ^ 0x2545f491, TASK_KINDS.indexOf(kind)), k);
  const rng = new Rng(stream);
  // The home poses after warm-up tasks draw from a stream of their own, so an episode that
  // needed none is the same start state and instruction as before returnGripperHome existed.
  const homeRng = new Rng(deriveSeed(stream, 0x40e));
  for (let s = 0; s < MAX_SCENES; s++) {
    const state = sampleScene(rng, scene);
    for (let warm = 0; ; warm++) {
      const spec = sampleTask(state, rng, undefined, [kind]);
      if (spec && solveWithExpert(structuredClone(state), spec, EXPERT_STEPS)) {
        return { state, spec, instruction: instructionFor(state, spec, rng, paraphrases) };
      }
      if (warm === WARMUP_TASKS) break;
      // Any other task the expert can do changes the state (opens the drawer, fills a bowl...).
      const other = sampleTask(state, rng, kind);
      if (!other || other.kind === kind || !solveWithExpert(state, other, EXPERT_STEPS)) break;
      // The expert stops where that task succeeded, holding the switch knob or the drawer handle
      // at the success boundary: lamp_on after lamp_off would be a nudge. Start from home instead.
      returnGripperHome(state, homeRng);
    }
  }
  throw new Error(`single-task episodes: found no start state for ${kind} in env ${scene.env} ` +
    `in ${MAX_SCENES} scenes (with up to ${WARMUP_TASKS} expert warm-up tasks each)`);
}

/** Try every kind of `o.tasks` perTask times; attempt k of every kind comes before attempt k + 1. */
export async function evaluateTasks(policy: Policy, o: SingleTaskOptions): Promise<SingleTaskResult> {
  checkSingleTaskOptions(o);
  const maxSteps = o.maxStepsPerTask ?? 300;
  const paraphrases = o.paraphrases ?? 'heldout';
  const scene: SceneOptions = { env: o.env, distractors: o.distractors ?? 2, confusers: o.confusers ?? 0, objects: o.objects ?? 'all' };
  const env = new TabletopEnv({ ...o, ...scene, render: o.render !== false });
  const kinds = [...new Set(o.tasks)];
  const counts = new Map<TaskKind, number>(kinds.map((kind) => [kind, 0]));
  const total = o.perTask * kinds.length;
  let done = 0;
  for (let k = 0; k < o.perTask; k++) {
    for (const kind of kinds) {
      const ep = singleTaskEpisode(o.seed, kind, k, scene, paraphrases);
      env.setState(ep.state);
      if (await runTask(env, policy, ep.spec, k, 0, ep.instruction, maxSteps, o.onStep)) counts.set(kind, counts.get(kind)! + 1);
      o.onEpisode?.(++done, total);
    }
  }
  const perTask: Record<string, TaskStats> = {};
  let successes = 0;
  for (const [kind, n] of counts) {
    perTask[kind] = taskStats(n, o.perTask);
    successes += n;
  }
  return { per_task: perTask, overall: taskStats(successes, total), env: o.env, seed: o.seed, paraphrases, objects: scene.objects!, perTask: o.perTask };
}
