// The policy interface (what a ReconVLA model implements) and two reference policies.
import { expertAction } from './expert.ts';
import type { Observation } from './observation.ts';
import type { Action } from './physics.ts';
import { Rng } from './rng.ts';

/** Where the episode is when a policy is reset. */
export interface ResetInfo {
  /** Index of the chain in the evaluation. */
  chain: number;
  /** Index of the task within the chain (0 = a new chain and a new scene). */
  task: number;
}

/**
 * A policy maps an observation and the current instruction to a 7-D action
 * (dx, dy, dz, droll, dpitch, dyaw, gripper), each in [-1, 1]; gripper < 0 closes.
 * `reset`, when present, is called before every task (with task = 0 at a new chain)
 * so a policy with memory (history, action chunks) can clear it.
 */
export type Policy = ((observation: Observation, instruction: string) => Promise<Action> | Action) & {
  reset?: (info: ResetInfo) => void | Promise<void>;
};

/** The scripted expert as a policy (it reads the privileged state), with optional Gaussian action noise. */
export function expertPolicy(opts: { noise?: number; seed?: number } = {}): Policy {
  const noise = opts.noise ?? 0;
  const rng = new Rng(opts.seed ?? 0);
  return (obs: Observation): Action => {
    const task = obs.privileged.task;
    if (!task) throw new Error('expert policy: no task is set');
    return addNoise(expertAction(obs.privileged.state, task), noise, rng);
  };
}

/** Uniformly random actions. */
export function randomPolicy(seed = 0): Policy {
  const rng = new Rng(seed);
  return (): Action => Float32Array.from({ length: 7 }, () => rng.uniform(-1, 1));
}

/** Gaussian noise (std `sigma`, in action units) on the six motion components; the gripper is left alone. */
export function addNoise(a: Float32Array, sigma: number, rng: Rng): Float32Array {
  if (sigma <= 0) return a;
  for (let i = 0; i < 6; i++) a[i] = Math.max(-1, Math.min(1, (a[i] as number) + sigma * rng.normal()));
  return a;
}
