// `reconvla dagger`: one round of DAgger. A trained run acts in new episodes drawn like its
// dataset's (same envs, tasks, start poses and scene settings, another seed); every state it
// reaches is labelled with the expert's action; the rollouts are written as a dataset that
// starts with the original dataset's shards, ready for `reconvla train --data OUT --init-from RUN`.
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { backendArg, choiceArg, intArg, numArg, type BackendFlag } from './args.ts';
import { createBackend } from '@reconvla/core';
import type { ActionDecoding } from '@reconvla/reconvla';
import { collectDagger, DatasetReader, type DaggerOptions, type TaskKind } from '@reconvla/tabletop';
import { DECODINGS, DEFAULT_DECODING } from './eval_command.ts';

export interface DaggerFlags {
  run?: string; model?: string; data: string; out: string; episodes: number; seed?: number; beta: number;
  stallSteps: number; maxSteps: number; aggregate: boolean; decoding: ActionDecoding; backend: BackendFlag;
}

/** The collection options: the scene settings of `data` (its dataset.json), the round's own from the flags. */
export function daggerOptions(f: DaggerFlags): Omit<DaggerOptions, 'policy' | 'policyName'> {
  const d = DatasetReader.open(f.data).index;
  // Every round needs start states of its own: not the demonstrations', not an earlier round's.
  const used = [d.seed, ...(d.dagger ?? []).map((r) => r.seed)];
  const seed = f.seed ?? Math.max(...used) + 1;
  if (used.includes(seed)) throw new Error(`--seed ${seed}: ${f.data} already holds episodes started from it (seeds ${used.join(', ')}); choose another`);
  const [staticHeight, staticWidth] = d.cameras.static;
  const [gripperHeight, gripperWidth] = d.cameras.gripper;
  return {
    out: f.out, envs: d.envs, episodes: f.episodes, seed, noise: d.noise, randomStart: d.random_start, randomFixtures: d.random_fixtures === true,
    ...(d.task_filter ? { tasks: d.task_filter as TaskKind[] } : {}),
    distractors: d.distractors, confusers: d.confusers, objects: d.objects, rolloutSteps: f.maxSteps,
    staticHeight, staticWidth, gripperHeight, gripperWidth, beta: f.beta, stallSteps: f.stallSteps,
    ...(f.aggregate ? { aggregate: f.data } : {}),
  };
}

export function registerDagger(program: Command): void {
  program.command('dagger')
    .description('one DAgger round: a trained run acts in new episodes like its dataset\'s, the expert labels every state it reaches; writes a dataset (after --data\'s shards) to train on')
    .option('--run <dir>', 'run folder of the policy that acts')
    .option('--model <dir>', 'an exported model folder, instead of --run')
    .requiredOption('--data <dir>', 'the dataset the run trained on: its scene settings are used, and its shards come first in --out')
    .requiredOption('--out <dir>', 'new dataset folder')
    .requiredOption('--episodes <n>', 'rollouts to record', intArg('episodes', 1))
    .option('--seed <n>', 'seed of the rollouts\' episodes (default: one above every seed the dataset holds)', intArg('seed', 0))
    .option('--beta <p>', 'probability that a step executes the expert\'s action instead of the policy\'s', numArg('beta', 0, 1), 0)
    .option('--stall-steps <n>', 'the expert takes over once the gripper has stayed within one step\'s reach for n steps (0: never)', intArg('stall-steps', 0), 20)
    .option('--max-steps <n>', 'steps per rollout', intArg('max-steps', 1), 150)
    .option('--no-aggregate', 'write only the rollouts, without --data\'s shards')
    .option('--decoding <how>', 'bin probabilities to an action: argmax, median or mean', choiceArg('decoding', DECODINGS), DEFAULT_DECODING)
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'wasm' as const)
    .action(async (f: DaggerFlags) => {
      const options = daggerOptions(f); // bad flags and a missing dataset fail before the model loads
      const R = await import('@reconvla/reconvla');
      const S = await import('@reconvla/reconvla/sim');
      const { model, from } = R.loadRunOrFolder(f, await createBackend(f.backend));
      let calls = 0, ms = 0;
      const policy = S.reconvlaPolicy(model, { decoding: f.decoding, onPredict: (t) => { calls++; ms += t; } });
      const bar = new cliProgress.SingleBar({ format: 'dagger [{bar}] {value}/{total} rollouts | {successes} succeeded, {takeovers} taken over | {frames} frames | eta {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic);
      bar.start(f.episodes, 0, { successes: 0, takeovers: 0, frames: 0 });
      const t0 = Date.now();
      const index = await collectDagger({
        ...options, policy, policyName: path.resolve(from),
        onRollout: (done, _total, s) => bar.update(done, s),
      });
      bar.stop();
      const round = index.dagger!.at(-1)!;
      const secs = (Date.now() - t0) / 1000;
      console.log(`${round.episodes} rollouts of ${from} (seed ${round.seed}): the policy succeeded in ${round.policy_successes}, the expert took over ${round.takeovers}; ` +
        `${round.frames} frames (${round.policy_steps} policy steps, ${round.expert_steps} expert steps) in ${secs.toFixed(0)} s (${calls} model calls, ${calls ? (ms / calls).toFixed(1) : 0} ms each)`);
      console.log(`wrote ${f.out}: ${index.episodes} episodes, ${index.frames} frames in ${index.shards.length} shards${round.aggregated_from ? ` (with ${round.aggregated_from}'s)` : ''}`);
    });
}
