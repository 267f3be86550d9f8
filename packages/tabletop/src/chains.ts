// Long-horizon chains, as in CALVIN: five instructions in a row, each sampled so that it
// can be done in the state the previous ones leave behind. Feasibility is established by
// running the scripted expert through the chain while sampling it.
import { expertAction } from './expert.ts';
import { instructionFor, type Paraphrases } from './language.ts';
import { stepWorld } from './physics.ts';
import { Rng, deriveSeed } from './rng.ts';
import { sampleScene, type SceneOptions } from './scene.ts';
import { beginTask, feasibleTasks, isSuccess, type TaskKind, type TaskSpec } from './tasks.ts';
import type { WorldState } from './world.ts';

export interface Chain {
  /** The scene the chain starts from. */
  state: WorldState;
  tasks: TaskSpec[];
}

export interface ChainOptions extends SceneOptions {
  /** Instructions per chain (default 5). */
  length?: number;
  /** Step budget the expert gets per task while checking feasibility (default 300). */
  maxStepsPerTask?: number;
  /**
   * Sample only these task kinds (a run trained on a subset). Fewer kinds make a feasible
   * chain rarer (after lamp_on only lamp_off is left of the pair), so a restricted chain gets
   * more attempts; kinds that cannot follow one another at all (just lamp_on) still fail.
   */
  tasks?: readonly TaskKind[];
}

/** Scenes tried per chain: unrestricted chains never need many; a restriction may need more. */
const CHAIN_ATTEMPTS = 20;
const RESTRICTED_CHAIN_ATTEMPTS = 200;

/**
 * Pick a task: first a kind uniformly among the feasible kinds (not repeating the last), then an
 * instance. `only` restricts the kinds (a run trained on a subset of the tasks).
 */
export function sampleTask(s: WorldState, rng: Rng, avoidKind?: string, only?: readonly TaskKind[]): TaskSpec | null {
  const all = feasibleTasks(s).filter((t) => !only || only.includes(t.kind));
  let kinds = [...new Set(all.map((t) => t.kind))];
  if (kinds.length > 1 && avoidKind) kinds = kinds.filter((k) => k !== avoidKind);
  if (kinds.length === 0) return null;
  const kind = rng.pick(kinds);
  return rng.pick(all.filter((t) => t.kind === kind));
}

/** Run the expert (noise-free, no rendering) on `spec` from `s`, in place. True when it succeeds. */
export function solveWithExpert(s: WorldState, spec: TaskSpec, maxSteps: number): boolean {
  const task = beginTask(s, spec);
  for (let t = 0; t < maxSteps; t++) {
    stepWorld(s, expertAction(s, task));
    if (isSuccess(s, task)) return true;
  }
  return false;
}

export function sampleChain(rng: Rng, opts: ChainOptions): Chain {
  const length = opts.length ?? 5;
  const maxSteps = opts.maxStepsPerTask ?? 300;
  const attempts = opts.tasks ? RESTRICTED_CHAIN_ATTEMPTS : CHAIN_ATTEMPTS;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const start = sampleScene(rng, opts);
    const sim = structuredClone(start);
    const tasks: TaskSpec[] = [];
    while (tasks.length < length) {
      let ok = false;
      for (let tries = 0; tries < 5 && !ok; tries++) {
        const spec = sampleTask(sim, rng, tasks[tasks.length - 1]?.kind, opts.tasks);
        if (!spec) break;
        const trial = structuredClone(sim);
        if (solveWithExpert(trial, spec, maxSteps)) {
          Object.assign(sim, trial);
          tasks.push(spec);
          ok = true;
        }
      }
      if (!ok) break;
    }
    if (tasks.length === length) return { state: start, tasks };
  }
  const only = opts.tasks ? ` of the tasks ${opts.tasks.join(', ')}` : '';
  throw new Error(`could not sample a feasible chain of ${length}${only} in env ${opts.env} in ${attempts} attempts` +
    (opts.tasks ? ' (can these kinds follow one another? e.g. lamp_on alone cannot be asked twice in a row)' : ''));
}

/** Chain k of the set named by `seed` (independent of how many chains are drawn). */
export function chainAt(seed: number, k: number, opts: ChainOptions): Chain {
  return sampleChain(new Rng(deriveSeed(seed, k)), opts);
}

/** A chain written out with its instructions, as the long-horizon split on disk. */
export interface ChainRecord {
  index: number;
  state: WorldState;
  tasks: { spec: TaskSpec; instruction: string }[];
}

/**
 * The long-horizon split: `count` chains of the set named by `seed`, each with the
 * instructions evaluation uses (held-out paraphrases by default), as plain JSON-able data.
 */
export function chainSplit(seed: number, count: number, opts: ChainOptions, paraphrases: Paraphrases = 'heldout'): ChainRecord[] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`chains must be a positive integer, got ${count}`);
  const out: ChainRecord[] = [];
  for (let k = 0; k < count; k++) {
    const chain = chainAt(seed, k, opts);
    const words = new Rng(deriveSeed(seed ^ 0x5bd1e995, k));
    // Each instruction describes the state its task starts from (as evaluate() does): "take the
    // cube out of the {bowl}" needs the bowl the cube is in by then, not at the chain's start.
    const sim = structuredClone(chain.state);
    const tasks = chain.tasks.map((spec) => {
      const instruction = instructionFor(sim, spec, words, paraphrases);
      solveWithExpert(sim, spec, opts.maxStepsPerTask ?? 300);
      return { spec, instruction };
    });
    out.push({ index: k, state: chain.state, tasks });
  }
  return out;
}
