// Teacher-forced action accuracy on demonstrations of the evaluation environment: a graded
// measure beside closed-loop success. When no variant completes a task in the unseen env, every
// chain scores 0 and the success table cannot order the variants; how often each one picks the
// expert's action bin on env-D frames still can. Per episode, so the bootstrap resamples
// episodes (frames of one episode are not independent draws).
import type { ReconVLA } from '@reconvla/reconvla';

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
