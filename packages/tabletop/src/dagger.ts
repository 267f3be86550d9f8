// DAgger (Ross, Gordon & Bagnell 2011): let the policy act, and label every state it reaches with
// the expert's action there. Demonstrations only show the expert's own paths; a policy that drifts
// off them meets states it never saw (our traced failures: the gripper stalls a few centimetres
// from a handle, where the expert would make a fractional correction). The expert is a function
// of the world state alone, so those states can be labelled exactly, and training on them teaches
// the way back. The rollouts are written as an ordinary dataset, optionally after another
// dataset's shards (aggregation: the original demonstrations stay in the mix).
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  checkGenerateOptions, emptyIndex, emptyRecording, pushFrame, ShardWriter, startEpisode,
  type DaggerRound, type DatasetIndex, type GenerateOptions,
} from './dataset.ts';
import { expertAction } from './expert.ts';
import { addNoise, type Policy } from './policy.ts';
import { DatasetReader } from './reader.ts';

export interface DaggerOptions extends GenerateOptions {
  /** The policy whose states are recorded. */
  policy: Policy;
  /** Names the policy in dataset.json (a run or model folder). */
  policyName: string;
  /**
   * Probability that a step executes the expert's action (with `noise`) instead of the policy's
   * (DAgger's beta; default 0: the policy acts on every step until a takeover).
   */
  beta?: number;
  /**
   * The expert takes over for the rest of the episode once the gripper has stayed within one
   * step's reach (MAX_TRANSLATION, MAX_ROTATION, half the opening) for this many steps: a policy
   * stuck at a fixed point would otherwise fill the data with copies of one frame, and the
   * expert's way out of it is worth recording. 0: never (default 20).
   */
  stallSteps?: number;
  /**
   * Steps per rollout (default 150). `maxSteps` stays the dataset's own (the expert's budget for the
   * warm-up tasks that vary the start states), so the same seed starts where generateDataset would.
   */
  rolloutSteps?: number;
  /** Start from this dataset: its shards are linked (or copied) into `out` and listed first. */
  aggregate?: string;
  /** Called after each episode. */
  onRollout?: (done: number, total: number, stats: { successes: number; takeovers: number; frames: number }) => void;
}

export function checkDaggerOptions(o: DaggerOptions): void {
  checkGenerateOptions(o);
  const beta = o.beta ?? 0;
  if (!(beta >= 0 && beta <= 1)) throw new Error(`beta must be in [0, 1], got ${beta}`);
  const stall = o.stallSteps ?? 20;
  if (!Number.isInteger(stall) || stall < 0) throw new Error(`stallSteps must be a non-negative integer, got ${stall}`);
  const steps = o.rolloutSteps ?? 150;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`rolloutSteps must be a positive integer, got ${steps}`);
  if ((o.relabel ?? 0) !== 0) throw new Error('DAgger rollouts are not relabelled: relabel must be 0');
  if (o.aggregate !== undefined && resolve(o.aggregate) === resolve(o.out)) throw new Error(`aggregate: ${o.aggregate} is the output folder itself`);
  if (existsSync(join(o.out, 'dataset.json'))) throw new Error(`${o.out} already holds a dataset (dataset.json): choose a new folder`);
  if (existsSync(o.out) && readdirSync(o.out).some((f) => f.endsWith('.safetensors'))) throw new Error(`${o.out} already holds shards: choose a new folder`);
}

/** A window of proprio states: has the gripper stayed within one step's reach for its whole length? */
class StallDetector {
  private readonly history: Float32Array[] = [];
  constructor(private readonly steps: number) {}

  /** Adds a state [x, y, z, roll, pitch, yaw, opening, grasping]; true when the last `steps` states stayed together. */
  stalled(proprio: Float32Array): boolean {
    if (this.steps === 0) return false;
    this.history.push(proprio);
    if (this.history.length > this.steps) this.history.shift();
    if (this.history.length < this.steps) return false;
    // Per field: largest spread over the window allowed (x, y, z one full step; yaw one full turn step; opening half).
    const limits: [number, number][] = [[0, 0.02], [1, 0.02], [2, 0.02], [5, 0.15], [6, 0.5]];
    return limits.every(([i, limit]) => {
      let lo = Infinity, hi = -Infinity;
      for (const p of this.history) { lo = Math.min(lo, p[i]!); hi = Math.max(hi, p[i]!); }
      return hi - lo <= limit;
    });
  }
}

/** Link (or, across file systems, copy) every shard of `from` into `out`; returns a copy of its index. */
function aggregateInto(from: string, out: string, o: GenerateOptions): DatasetIndex {
  const base = DatasetReader.open(from).index;
  const want = emptyIndex(o).cameras;
  if (base.cameras.static.join() !== want.static.join() || base.cameras.gripper.join() !== want.gripper.join()) {
    throw new Error(`aggregate: ${from}/dataset.json has cameras static ${base.cameras.static.join('x')}, gripper ${base.cameras.gripper.join('x')}; ` +
      `the rollouts would be static ${want.static.join('x')}, gripper ${want.gripper.join('x')}`);
  }
  mkdirSync(out, { recursive: true });
  for (const s of base.shards) {
    const src = join(from, s.file), dst = join(out, s.file);
    if (existsSync(dst)) throw new Error(`aggregate: ${dst} exists already`);
    try { linkSync(src, dst); } catch { copyFileSync(src, dst); }
  }
  return structuredClone(base);
}

/**
 * Run `o.episodes` rollouts of `o.policy`, started as `generateDataset` starts its episodes
 * (same seeds give the same scenes, tasks and instructions), recording every frame with the
 * expert's action as its label. Writes the dataset (after o.aggregate's shards) and returns its index.
 */
export async function collectDagger(o: DaggerOptions): Promise<DatasetIndex> {
  checkDaggerOptions(o);
  const index = o.aggregate ? aggregateInto(o.aggregate, o.out, o) : emptyIndex(o);
  const writer = new ShardWriter(o.out, index, o.shardFrames ?? 1024);
  const rolloutSteps = o.rolloutSteps ?? 150;
  const noise = o.noise ?? 0.1;
  const beta = o.beta ?? 0;
  const round: DaggerRound = {
    policy: o.policyName, seed: o.seed, episodes: o.episodes, frames: 0, beta, stall_steps: o.stallSteps ?? 20,
    policy_steps: 0, expert_steps: 0, takeovers: 0, policy_successes: 0, aggregated_from: o.aggregate ?? null,
  };
  const framesBefore = index.frames;
  for (let i = 0; i < o.episodes; i++) {
    const { env, task, rng, info } = startEpisode(o, i);
    const rec = emptyRecording({ ...info, actor: 'policy', takeover: null });
    const stall = new StallDetector(round.stall_steps);
    await o.policy.reset?.({ chain: i, task: 0 });
    let obs = env.observe();
    for (let t = 0; t < rolloutSteps; t++) {
      const label = expertAction(env.state, task);
      pushFrame(rec, obs, label);
      if (rec.info.takeover === null && stall.stalled(obs.proprio)) { rec.info.takeover = t; round.takeovers++; }
      const expertActs = rec.info.takeover !== null || (beta > 0 && rng.uniform(0, 1) < beta);
      const action = expertActs ? addNoise(label.slice(), noise, rng) : await o.policy(obs, info.instruction);
      if (expertActs) round.expert_steps++; else round.policy_steps++;
      const r = env.step(action);
      obs = r.observation;
      if (r.success) {
        rec.info.success = true;
        if (rec.info.takeover === null) round.policy_successes++;
        break;
      }
    }
    rec.info.frames = rec.actions.length;
    writer.add(rec);
    writer.maybeFlush();
    o.onRollout?.(i + 1, o.episodes, { successes: round.policy_successes, takeovers: round.takeovers, frames: writer.index.frames - framesBefore });
  }
  round.frames = writer.index.frames - framesBefore;
  index.dagger = [...(index.dagger ?? []), round];
  return writer.finish();
}
