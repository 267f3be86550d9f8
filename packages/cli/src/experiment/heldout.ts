// Teacher-forced action accuracy on demonstrations: a graded measure beside closed-loop success.
// When no variant completes a task in the unseen env, every chain scores 0 and the success table
// cannot order the variants; how often each one picks the expert's action bin on env-D frames
// still can. The same on new episodes of the training envs shows the generalization gap. Per
// episode, so the bootstrap resamples episodes (frames of one episode are not independent draws).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ReconVLA } from '@reconvla/reconvla';
import { generateDataset, type EnvName } from '@reconvla/tabletop';
import type { ExperimentPreset } from '../presets.ts';

/** One demonstration episode's numbers for one run. */
export interface HeldOutEpisode {
  task: string;
  frames: number;
  /** Action tokens scored (frames x chunk x action dims). */
  tokens: number;
  /** Share of those tokens predicted exactly (greedy over the action ids, true previous tokens). */
  exact: number;
  /** Mean |decoded - demonstrated| action value over those tokens. */
  mae: number;
  /** exact of each action dimension (dx, dy, dz, droll, dpitch, dyaw, gripper). */
  exactByDim: number[];
}

export interface HeldOutResult {
  /** Dataset folder (relative to the experiment folder) and its env. */
  data: string;
  env: string;
  episodes: HeldOutEpisode[];
  /** Means over the episodes (each episode counts once, as in the report's bootstrap). */
  exact: number;
  mae: number;
  /** Commit that computed these numbers (a run trained before the measure existed gets it added later). */
  commit: string | null;
}

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
  for (const env of heldOutEnvs(p)) results.push(await heldOutAccuracy(model, path.join(out, heldOutFolder(env)), { data: heldOutFolder(env), env, commit }));
  return results;
}

/** Scores `model` on every usable episode of the dataset folder `dir`. */
export async function heldOutAccuracy(model: ReconVLA, dir: string, o: { data: string; env: string; commit: string | null }): Promise<HeldOutResult> {
  const R = await import('@reconvla/reconvla');
  const S = await import('@reconvla/reconvla/sim');
  const processor = new R.Processor(model.config);
  const episodes: HeldOutEpisode[] = [];
  for (const ep of S.episodeBatches(dir, { cropSize: model.config.vision.imageSize, actionChunk: model.config.prompt.actionChunk, views: model.config.views })) {
    let tokens = 0, exact = 0, absErr = 0;
    let byDim: number[] = [];
    for (const batch of ep.batches) {
      const a = await R.teacherForcedAccuracy(model, processor, batch);
      tokens += a.tokens;
      exact += a.exact * a.tokens;
      absErr += a.meanAbsError * a.tokens;
      byDim = a.exactByDim.map((x, d) => (byDim[d] ?? 0) + x * a.tokens); // every dimension has tokens / dims of them
    }
    episodes.push({ task: ep.task, frames: ep.frames, tokens, exact: exact / tokens, mae: absErr / tokens, exactByDim: byDim.map((x) => x / tokens) });
  }
  if (episodes.length === 0) throw new Error(`${dir}: no usable episode to score`);
  const perEpisode = (of: (e: HeldOutEpisode) => number): number => episodes.reduce((s, e) => s + of(e), 0) / episodes.length;
  return { data: o.data, env: o.env, episodes, exact: perEpisode((e) => e.exact), mae: perEpisode((e) => e.mae), commit: o.commit };
}
