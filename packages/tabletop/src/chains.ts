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
}

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
  for (let attempt = 0; attempt < 20; attempt++) {
    const start = sampleScene(rng, opts);
    const sim = structuredClone(start);
    const tasks: TaskSpec[] = [];
    while (tasks.length < length) {
      let ok = false;
      for (let tries = 0; tries < 5 && !ok; tries++) {
        const spec = sampleTask(sim, rng, tasks[tasks.length - 1]?.kind);
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
  throw new Error('could not sample a feasible chain in 20 attempts');
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
    out.push({ index: k, state: chain.state, tasks: chain.tasks.map((spec) => ({ spec, instruction: instructionFor(chain.state, spec, words, paraphrases) })) });
  }
  return out;
}
