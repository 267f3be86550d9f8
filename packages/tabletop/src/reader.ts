// Reading datasets back: a whole shard at a time, or as a stream of shuffled batches
// that also carries, for every frame, its gaze region cropped and resized to a fixed
// size (the reconstruction target of ReconVLA).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATASET_FORMAT, usableEpisode, type DatasetIndex, type EpisodeInfo } from './dataset.ts';
import { cropResize, type Box } from './image.ts';
import { Rng } from './rng.ts';
import { decodeSafetensors, readSafetensorsMetadata } from './safetensors.ts';

/** One shard in memory; arrays are views into the file's bytes. */
export interface Shard {
  frames: number;
  staticRgb: Uint8Array;
  gripperRgb: Uint8Array;
  actions: Float32Array;
  proprio: Float32Array;
  gazeStatic: Int32Array;
  gazeGripper: Int32Array;
  gazeWholeStatic: Int32Array;
  gazeWholeGripper: Int32Array;
  /** Episode of each frame (index into `episodes`). */
  frameEpisode: Int32Array;
  episodes: EpisodeInfo[];
}

export type CropCamera = 'static' | 'gripper';

export interface BatchOptions {
  batchSize: number;
  /** Seeds the shuffling; each epoch reshuffles (default 0). */
  seed?: number;
  shuffle?: boolean;
  /** Side of the square gaze crop (default 32); 0 for no crops. */
  cropSize?: number;
  /** Camera the crop comes from (default 'static'). */
  cropCamera?: CropCamera;
  /** Passes over the data (default 1). */
  epochs?: number;
  /** Shards held in memory at once; frames are shuffled across them (default 2). */
  shardsInMemory?: number;
  /** Skip the frames of failed expert episodes (default true; see usableEpisode). */
  onlySuccessful?: boolean;
  dropLast?: boolean;
}

export interface Batch {
  size: number;
  /** [B, H, W, 3] */
  staticRgb: Uint8Array;
  /** [B, h, w, 3] */
  gripperRgb: Uint8Array;
  /** [B, 7] */
  actions: Float32Array;
  /** [B, 8] */
  proprio: Float32Array;
  /** [B, 4] x0 y0 x1 y1, -1 when not in view */
  gazeStatic: Int32Array;
  gazeGripper: Int32Array;
  /** [B, C, C, 3] gaze crops (zeros where the gaze box is missing) */
  crops: Uint8Array;
  /** [B] 1 where the crop is valid */
  cropValid: Uint8Array;
  instructions: string[];
  /** [B] task kind index (DatasetIndex.tasks) */
  tasks: Int32Array;
  /** [B] dataset episode index and frame index within the episode */
  episodes: Int32Array;
  frameInEpisode: Int32Array;
}

export class DatasetReader {
  readonly dir: string;
  readonly index: DatasetIndex;

  private constructor(dir: string, index: DatasetIndex) {
    this.dir = dir;
    this.index = index;
  }

  static open(dir: string): DatasetReader {
    let text: string;
    try {
      text = readFileSync(join(dir, 'dataset.json'), 'utf8');
    } catch {
      throw new Error(`no dataset at ${dir}: dataset.json is missing (write one with \`reconvla sim generate\`)`);
    }
    const index = JSON.parse(text) as DatasetIndex;
    if (index.format !== DATASET_FORMAT) throw new Error(`${dir}/dataset.json: format is ${String(index.format)}, expected ${DATASET_FORMAT}`);
    // Datasets written before relabelling existed: every episode is a demonstration.
    index.relabel ??= 0;
    index.demonstrations ??= index.episodes;
    return new DatasetReader(dir, index);
  }

  readShard(i: number): Shard {
    const info = this.index.shards[i];
    if (!info) throw new Error(`shard ${i} does not exist (the dataset has ${this.index.shards.length})`);
    const st = decodeSafetensors(readFileSync(join(this.dir, info.file)));
    const t = st.tensors;
    const need = (name: string): unknown => {
      const x = t[name];
      if (!x) throw new Error(`${info.file}: tensor ${name} is missing`);
      return x.data;
    };
    const starts = need('episode_start') as BigInt64Array;
    const frames = Number(starts[starts.length - 1]);
    const frameEpisode = new Int32Array(frames);
    for (let e = 0; e + 1 < starts.length; e++) frameEpisode.fill(e, Number(starts[e]), Number(starts[e + 1]));
    return {
      frames,
      staticRgb: need('static_rgb') as Uint8Array,
      gripperRgb: need('gripper_rgb') as Uint8Array,
      actions: need('actions') as Float32Array,
      proprio: need('proprio') as Float32Array,
      gazeStatic: need('gaze_static') as Int32Array,
      gazeGripper: need('gaze_gripper') as Int32Array,
      gazeWholeStatic: need('gaze_whole_static') as Int32Array,
      gazeWholeGripper: need('gaze_whole_gripper') as Int32Array,
      frameEpisode,
      episodes: JSON.parse(st.metadata['episodes'] ?? '[]') as EpisodeInfo[],
    };
  }

  /** A shard's episodes from its header alone (no frames read). */
  shardEpisodes(i: number): EpisodeInfo[] {
    const info = this.index.shards[i];
    if (!info) throw new Error(`shard ${i} does not exist (the dataset has ${this.index.shards.length})`);
    return JSON.parse(readSafetensorsMetadata(join(this.dir, info.file))['episodes'] ?? '[]') as EpisodeInfo[];
  }

  /** Stream batches: shards are visited in shuffled order, `shardsInMemory` at a time, frames shuffled across them. */
  async *batches(opts: BatchOptions): AsyncGenerator<Batch> {
    const B = opts.batchSize;
    if (!Number.isInteger(B) || B < 1) throw new Error(`batchSize must be a positive integer, got ${B}`);
    const cropSize = opts.cropSize ?? 32;
    if (!Number.isInteger(cropSize) || cropSize < 0) throw new Error(`cropSize must be a non-negative integer, got ${cropSize}`);
    const window = opts.shardsInMemory ?? 2;
    if (!Number.isInteger(window) || window < 1) throw new Error(`shardsInMemory must be a positive integer, got ${window}`);
    const rng = new Rng(opts.seed ?? 0);
    const shuffle = opts.shuffle !== false;
    const epochs = opts.epochs ?? 1;
    type Ref = { shard: Shard; frame: number };
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = this.index.shards.map((_, i) => i);
      if (shuffle) rng.shuffle(order);
      let pending: Ref[] = [];
      for (let w = 0; w < order.length; w += window) {
        const refs: Ref[] = [];
        for (const i of order.slice(w, w + window)) {
          const shard = this.readShard(i);
          for (let f = 0; f < shard.frames; f++) {
            if (opts.onlySuccessful !== false && !usableEpisode(shard.episodes[shard.frameEpisode[f] as number])) continue;
            refs.push({ shard, frame: f });
          }
        }
        if (shuffle) rng.shuffle(refs);
        pending = pending.concat(refs);
        while (pending.length >= B) yield this.makeBatch(pending.splice(0, B), cropSize, opts.cropCamera ?? 'static');
      }
      if (pending.length > 0 && !opts.dropLast) yield this.makeBatch(pending, cropSize, opts.cropCamera ?? 'static');
    }
  }

  private makeBatch(refs: ReadonlyArray<{ shard: Shard; frame: number }>, cropSize: number, cropCamera: CropCamera): Batch {
    const n = refs.length;
    const [H, W] = this.index.cameras.static;
    const [h, w] = this.index.cameras.gripper;
    const b: Batch = {
      size: n,
      staticRgb: new Uint8Array(n * H * W * 3),
      gripperRgb: new Uint8Array(n * h * w * 3),
      actions: new Float32Array(n * 7),
      proprio: new Float32Array(n * 8),
      gazeStatic: new Int32Array(n * 4),
      gazeGripper: new Int32Array(n * 4),
      crops: new Uint8Array(n * cropSize * cropSize * 3),
      cropValid: new Uint8Array(n),
      instructions: [],
      tasks: new Int32Array(n),
      episodes: new Int32Array(n),
      frameInEpisode: new Int32Array(n),
    };
    const S = H * W * 3, G = h * w * 3;
    refs.forEach(({ shard, frame: f }, i) => {
      b.staticRgb.set(shard.staticRgb.subarray(f * S, (f + 1) * S), i * S);
      b.gripperRgb.set(shard.gripperRgb.subarray(f * G, (f + 1) * G), i * G);
      b.actions.set(shard.actions.subarray(f * 7, f * 7 + 7), i * 7);
      b.proprio.set(shard.proprio.subarray(f * 8, f * 8 + 8), i * 8);
      b.gazeStatic.set(shard.gazeStatic.subarray(f * 4, f * 4 + 4), i * 4);
      b.gazeGripper.set(shard.gazeGripper.subarray(f * 4, f * 4 + 4), i * 4);
      const e = shard.frameEpisode[f] as number;
      const ep = shard.episodes[e]!;
      b.instructions.push(ep.instruction);
      b.tasks[i] = this.index.tasks.indexOf(ep.task.kind);
      b.episodes[i] = ep.index;
      let first = f;
      while (first > 0 && shard.frameEpisode[first - 1] === e) first--;
      b.frameInEpisode[i] = f - first;
      if (cropSize > 0) {
        const g = cropCamera === 'static' ? shard.gazeStatic : shard.gazeGripper;
        if ((g[f * 4] as number) >= 0) {
          const box: Box = { x0: g[f * 4] as number, y0: g[f * 4 + 1] as number, x1: g[f * 4 + 2] as number, y1: g[f * 4 + 3] as number };
          const img = cropCamera === 'static'
            ? { width: W, height: H, rgb: shard.staticRgb.subarray(f * S, (f + 1) * S) }
            : { width: w, height: h, rgb: shard.gripperRgb.subarray(f * G, (f + 1) * G) };
          cropResize(img, box, cropSize, b.crops, i * cropSize * cropSize * 3);
          b.cropValid[i] = 1;
        }
      }
    });
    return b;
  }
}
