// Pictures of what a policy did: each step's two camera views side by side with the gaze
// boxes drawn, a coloured bar under them (green when the task just succeeded), written as
// an animated PNG or as a strip of frames.
import { encodeApng } from './apng.ts';
import { drawBox, hstack, upscale, vstack, type Image } from './image.ts';
import type { Observation } from './observation.ts';

export const GAZE_COLOR: readonly [number, number, number] = [255, 40, 200];

/** Both cameras of an observation (gripper view scaled to the static view's height) with gaze boxes. */
export function observationPicture(obs: Observation, scale = 2, success = false): Image {
  if (obs.static.rgb.length === 0) throw new Error('the observation has no pixels: run with rendering on');
  const s: Image = { width: obs.static.width, height: obs.static.height, rgb: obs.static.rgb.slice() };
  const g: Image = { width: obs.gripper.width, height: obs.gripper.height, rgb: obs.gripper.rgb.slice() };
  if (obs.gaze.static) drawBox(s, obs.gaze.static, GAZE_COLOR);
  if (obs.gaze.gripper) drawBox(g, obs.gaze.gripper, GAZE_COLOR);
  const gk = Math.max(1, Math.round((obs.static.height * scale) / obs.gripper.height));
  const views = hstack([upscale(s, scale), upscale(g, gk)]);
  const bar: Image = { width: views.width, height: 6, rgb: new Uint8Array(views.width * 6 * 3) };
  const c = success ? [40, 200, 80] : [60, 60, 70];
  for (let i = 0; i < views.width * 6; i++) { bar.rgb[i * 3] = c[0]!; bar.rgb[i * 3 + 1] = c[1]!; bar.rgb[i * 3 + 2] = c[2]!; }
  return vstack([views, bar], 0);
}

/** Collects observation pictures and writes them out. */
export class RolloutRecorder {
  readonly frames: Image[] = [];
  constructor(readonly scale = 2, readonly every = 1) {}
  private count = 0;

  add(obs: Observation, success = false): void {
    if (this.count++ % this.every === 0 || success) this.frames.push(observationPicture(obs, this.scale, success));
  }

  apng(delayMs = 80): Buffer {
    return encodeApng(this.frames, delayMs);
  }

  /** Up to `n` evenly spaced frames stacked vertically. */
  strip(n = 8): Image {
    const k = Math.max(1, Math.ceil(this.frames.length / n));
    return vstack(this.frames.filter((_, i) => i % k === 0 || i === this.frames.length - 1).slice(-n));
  }
}
