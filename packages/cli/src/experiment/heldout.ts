// Teacher-forced action accuracy on demonstrations: a graded measure beside closed-loop success.
// When no variant completes a task in the unseen env, every chain scores 0 and the success table
// cannot order the variants; how often each one picks the expert's action bin on env-D frames
// still can. The same on new episodes of the training envs shows the generalization gap. Per
// episode, so the bootstrap resamples episodes (frames of one episode are not independent draws).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ReconVLA } from '@reconvla/reconvla';
import type { DatasetAccuracy, EpisodeAccuracy } from '@reconvla/reconvla/sim';
import { generateDataset, type EnvName } from '@reconvla/tabletop';
import type { ExperimentPreset } from '../presets.ts';

/** One demonstration episode's numbers for one run. */
export type HeldOutEpisode = EpisodeAccuracy;

/** A run's numbers on one env's demonstrations (DatasetAccuracy), with where they came from. */
export interface HeldOutResult extends DatasetAccuracy {
  /** Dataset folder (relative to the experiment folder) and its env. */
  data: string;
  env: string;
  /** Commit that computed these numbers (a run trained before the measure existed gets it added later). */
  commit: string | null;
}

/** exact over dx and dy: the two moves that need to know where the target is. */
export const exactDxDy = (e: HeldOutEpisode): number => (e.exactByDim[0]! + e.exactByDim[1]!) / 2;

/** The evaluation env first, then the training envs. */
export function heldOutEnvs(p: ExperimentPreset): EnvName[] {
  return [p.eval.env, ...p.base.data.envs.filter((e) => e !== p.eval.env)];
}

export const heldOutFolder = (env: EnvName): string => `heldout-${env}`;

/** Writes the missing demonstration folders, one per env, recorded like the training data (same noise, start and tasks). */
export function writeHeldOutData(out: string, p: ExperimentPreset): void {
  const d = p.base.data;
  heldOutEnvs(p).forEach((env, k) => {
    const dir = path.join(out, heldOutFolder(env));
    if (existsSync(path.join(dir, 'dataset.json'))) return;
    generateDataset({ out: dir, envs: [env], episodes: p.heldout.episodes, seed: p.dataSeed + 2 + k, noise: d.noise, randomStart: d.randomStart, ...(d.tasks ? { tasks: d.tasks } : {}) });
  });
}

/** Every held-out env's numbers for `model` (the folders of writeHeldOutData under `out`). */
export async function scoreHeldOut(model: ReconVLA, out: string, p: ExperimentPreset, commit: string | null): Promise<HeldOutResult[]> {
  const results: HeldOutResult[] = [];
  const S = await import('@reconvla/reconvla/sim');
  for (const env of heldOutEnvs(p)) results.push({ ...await S.datasetAccuracy(model, path.join(out, heldOutFolder(env))), data: heldOutFolder(env), env, commit });
  return results;
}
