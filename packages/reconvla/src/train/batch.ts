// What the trainer consumes: batches of raw robot data on the host. Where they come from (the
// tabletop dataset, or anything else) is the caller's business; the processor turns them into
// tensors. A source is deterministic given its seed, and can start at any batch index, so a
// resumed run sees exactly the batches the uninterrupted one would have.
import type { RgbImage } from '@reconvla/siglip';

export interface HostBatch {
  /**
   * What the model sees (any size; resized to the vision tower's): the config's image_views of
   * each sample in order, sample-major (B x views images).
   */
  images: RgbImage[];
  /** The reconstruction targets (gaze crops), one per sample. Empty in caption batches. */
  targets: RgbImage[];
  /** One per sample; empty in caption batches. */
  instructions: string[];
  /** Raw robot states (config.prompt.state_dim values each). Empty in caption batches. */
  states: Float32Array[];
  /** action_chunk x action_dim values each, step-major. Empty in caption batches. */
  actions: Float32Array[];
  /** Caption batches (the vision stage): one description of each sample's scene. */
  captions?: string[];
  /**
   * The gaze box in each image, pixels [x0, y0, x1, y1) of that view (null: out of view), where
   * known: one per entry of `images` (B x views, sample-major), so sample i's first view is gaze[i x views].
   */
  gaze?: ([number, number, number, number] | null)[];
}

/** Batches number `start`, `start + 1`, ... of an endless deterministic stream. */
export type BatchSource = (opts: { batchSize: number; seed: number; start: number }) => AsyncIterator<HostBatch>;
