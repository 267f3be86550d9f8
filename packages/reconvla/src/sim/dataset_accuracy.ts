// Teacher-forced action accuracy over a whole tabletop dataset, episode by episode: a graded
// measure of how closely a policy imitates the expert on demonstrations it never trained on
// (closed-loop success is 0 or 1 per episode). Per episode, so that intervals can resample
// episodes: the frames of one episode are not independent draws.
import { teacherForcedAccuracy } from '../inference/accuracy.ts';
import type { ReconVLA } from '../model.ts';
import { Processor } from '../processor.ts';
import { episodeBatches } from './dataset.ts';

/** One demonstration episode's numbers. */
export interface EpisodeAccuracy {
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

export interface DatasetAccuracy {
  episodes: EpisodeAccuracy[];
  /** Means over the episodes (each episode counts once). */
  exact: number;
  mae: number;
}

/** Scores `model` on every usable episode of the tabletop dataset folder `dir`, in batches of at most `maxFrames`. */
export async function datasetAccuracy(model: ReconVLA, dir: string, maxFrames = 32): Promise<DatasetAccuracy> {
  const processor = new Processor(model.config);
  const episodes: EpisodeAccuracy[] = [];
  const c = model.config;
  for (const ep of episodeBatches(dir, { cropSize: c.vision.imageSize, actionChunk: c.prompt.actionChunk, views: c.views, maxFrames })) {
    let tokens = 0, exact = 0, absErr = 0;
    let byDim: number[] = [];
    for (const batch of ep.batches) {
      const a = await teacherForcedAccuracy(model, processor, batch);
      tokens += a.tokens;
      exact += a.exact * a.tokens;
      absErr += a.meanAbsError * a.tokens;
      byDim = a.exactByDim.map((x, d) => (byDim[d] ?? 0) + x * a.tokens); // every dimension has tokens / dims of them
    }
    episodes.push({ task: ep.task, frames: ep.frames, tokens, exact: exact / tokens, mae: absErr / tokens, exactByDim: byDim.map((x) => x / tokens) });
  }
  if (episodes.length === 0) throw new Error(`${dir}: no usable episode to score`);
  const perEpisode = (of: (e: EpisodeAccuracy) => number): number => episodes.reduce((s, e) => s + of(e), 0) / episodes.length;
  return { episodes, exact: perEpisode((e) => e.exact), mae: perEpisode((e) => e.mae) };
}
