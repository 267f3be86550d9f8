// Training batches from a tabletop dataset (DatasetReader shards): the static camera frame,
// its gaze crop (the reconstruction target; the whole frame where the gaze box is out of view
// or when the ablation reconstructs the full image), the episode's instruction, the proprio
// state, and the chunk of actions starting at the frame (the episode's last action repeated
// past its end). Shards are visited in a seeded order, a window of them in memory at a time.
import { cropResize, DatasetReader, Rng, usableEpisode, type Shard } from '@reconvla/tabletop';
import type { RgbImage } from '@reconvla/siglip';
import type { CameraView } from '../config.ts';
import type { BatchSource, HostBatch } from '../train/batch.ts';

export interface TabletopSourceOptions {
  /** Side of the gaze crop (the vision tower's image size). */
  cropSize: number;
  actionChunk: number;
  /** 'full' reconstructs the whole frame instead of the gaze crop (ablation). */
  target?: 'gaze' | 'full';
  /** The cameras the model sees, in order (default ['static']). */
  views?: readonly CameraView[];
  /** Only frames of episodes of these task kinds (default: every episode). */
  tasks?: readonly string[] | null;
  shardsInMemory?: number;
}

interface FrameRef { shard: Shard; frame: number; episodeEnd: number }

function framesOf(shard: Shard, tasks: readonly string[] | null | undefined): FrameRef[] {
  const refs: FrameRef[] = [];
  let end = shard.frames;
  for (let f = shard.frames - 1; f >= 0; f--) {
    if (f + 1 < shard.frames && shard.frameEpisode[f + 1] !== shard.frameEpisode[f]) end = f + 1;
    const ep = shard.episodes[shard.frameEpisode[f]!];
    if (usableEpisode(ep) && (!tasks || tasks.includes(ep!.task.kind))) refs.push({ shard, frame: f, episodeEnd: end });
  }
  return refs.reverse();
}

/** Frame f's gaze box from a [T, 4] table (-1 when out of view). */
function boxAt(table: Int32Array, f: number): [number, number, number, number] | null {
  return table[f * 4]! >= 0 ? [table[f * 4]!, table[f * 4 + 1]!, table[f * 4 + 2]!, table[f * 4 + 3]!] : null;
}

interface Sample { images: RgbImage[]; target: RgbImage; instruction: string; state: Float32Array; actions: Float32Array; gaze: ([number, number, number, number] | null)[] }

function sampleOf(ref: FrameRef, reader: DatasetReader, o: TabletopSourceOptions): Sample {
  const { shard, frame: f } = ref;
  const view = (v: CameraView): RgbImage => {
    const [h, w] = reader.index.cameras[v];
    const n = h * w * 3;
    return { data: (v === 'static' ? shard.staticRgb : shard.gripperRgb).subarray(f * n, (f + 1) * n), width: w, height: h };
  };
  const views = o.views ?? ['static'];
  const image = view('static');
  const [H, W] = reader.index.cameras.static;
  const rgb = image.data as Uint8Array;
  let target = image;
  const g = shard.gazeStatic;
  if ((o.target ?? 'gaze') === 'gaze' && g[f * 4]! >= 0) {
    const out = new Uint8Array(o.cropSize * o.cropSize * 3);
    cropResize({ width: W, height: H, rgb }, { x0: g[f * 4]!, y0: g[f * 4 + 1]!, x1: g[f * 4 + 2]!, y1: g[f * 4 + 3]! }, o.cropSize, out);
    target = { data: out, width: o.cropSize, height: o.cropSize };
  }
  const actions = new Float32Array(o.actionChunk * 7);
  for (let k = 0; k < o.actionChunk; k++) {
    const src = Math.min(f + k, ref.episodeEnd - 1);
    actions.set(shard.actions.subarray(src * 7, src * 7 + 7), k * 7);
  }
  return {
    images: views.map((v) => (v === 'static' ? image : view(v))), target, instruction: shard.episodes[shard.frameEpisode[f]!]!.instruction,
    state: shard.proprio.slice(f * 8, f * 8 + 8), actions,
    gaze: views.map((v) => boxAt(v === 'static' ? g : shard.gazeGripper, f)),
  };
}

function batchOf(samples: Sample[]): HostBatch {
  return {
    images: samples.flatMap((s) => s.images), targets: samples.map((s) => s.target), instructions: samples.map((s) => s.instruction),
    states: samples.map((s) => s.state), actions: samples.map((s) => s.actions), gaze: samples.flatMap((s) => s.gaze),
  };
}

/** A BatchSource over a tabletop dataset folder. */
export function tabletopSource(dir: string, o: TabletopSourceOptions): BatchSource {
  const reader = DatasetReader.open(dir);
  const window = o.shardsInMemory ?? 4;
  return async function* batches({ batchSize, seed, start }): AsyncGenerator<HostBatch> {
    const rng = new Rng(seed);
    let index = 0;
    for (;;) { // endless: one pass over the shards after another
      const order = reader.index.shards.map((_, i) => i);
      rng.shuffle(order);
      for (let w = 0; w < order.length; w += window) {
        const refs = order.slice(w, w + window).flatMap((i) => framesOf(reader.readShard(i), o.tasks));
        if (refs.length < batchSize) throw new Error(`dataset ${dir}: ${refs.length} usable frames in a window, fewer than the batch size ${batchSize}`);
        rng.shuffle(refs);
        for (let b = 0; b + batchSize <= refs.length; b += batchSize, index++) {
          if (index < start) continue; // resuming: skip without building the batch
          yield batchOf(refs.slice(b, b + batchSize).map((r) => sampleOf(r, reader, o)));
        }
      }
    }
  };
}

/** One episode of a dataset, every usable frame in order, in batches of at most maxFrames (held-out measures: no shuffling). */
export interface EpisodeBatches { shard: number; episode: number; task: string; frames: number; batches: HostBatch[] }

/** Every usable episode of a tabletop dataset folder, in shard and episode order. */
export function* episodeBatches(dir: string, o: TabletopSourceOptions & { maxFrames?: number }): Generator<EpisodeBatches> {
  const reader = DatasetReader.open(dir);
  const maxFrames = o.maxFrames ?? 32;
  for (let i = 0; i < reader.index.shards.length; i++) {
    const shard = reader.readShard(i);
    const byEpisode = new Map<number, FrameRef[]>();
    for (const r of framesOf(shard, o.tasks)) {
      const e = shard.frameEpisode[r.frame]!, list = byEpisode.get(e);
      if (list) list.push(r);
      else byEpisode.set(e, [r]);
    }
    for (const [e, refs] of byEpisode) {
      const batches: HostBatch[] = [];
      for (let b = 0; b < refs.length; b += maxFrames) {
        batches.push(batchOf(refs.slice(b, b + maxFrames).map((r) => sampleOf(r, reader, o))));
      }
      yield { shard: i, episode: e, task: shard.episodes[e]!.task.kind, frames: refs.length, batches };
    }
  }
}

/** Every instruction of a dataset (for building the word vocabulary). */
export function datasetInstructions(dir: string): string[] {
  const reader = DatasetReader.open(dir);
  return reader.index.shards.flatMap((_, i) => reader.shardEpisodes(i).map((e) => e.instruction));
}
