// What a policy sees each step.
import type { Box } from './image.ts';
import type { ActiveTask } from './tasks.ts';
import type { WorldState } from './world.ts';

export interface CameraImage {
  width: number;
  height: number;
  /** Row-major RGB bytes, top row first (width * height * 3); empty when rendering is off. */
  rgb: Uint8Array;
}

export interface GazeBoxes {
  static: Box | null;
  gripper: Box | null;
}

export interface Observation {
  /** Third-person camera, default 128x128. */
  static: CameraImage;
  /** Camera on the gripper looking down between the fingers, default 64x64. */
  gripper: CameraImage;
  /** [x, y, z, roll, pitch, yaw, opening (0 closed..1 open), grasping (0/1)]. Roll and pitch are always 0. */
  proprio: Float32Array;
  /** Box of what to act on now (see gaze.ts); the reconstruction target. */
  gaze: GazeBoxes;
  /** Box of the whole target (the whole drawer or lamp; otherwise the same as gaze). */
  gazeWhole: GazeBoxes;
  /** Steps taken since the current task began. */
  step: number;
  /**
   * The simulator's own (live) state and task, for scripted policies (the expert) and
   * debugging. A learned policy must not read it, and nobody may modify it.
   */
  privileged: { state: WorldState; task: ActiveTask | null };
}

export const PROPRIO_DIM = 8;

export function proprioOf(s: WorldState): Float32Array {
  const g = s.gripper;
  return Float32Array.from([g.pos[0], g.pos[1], g.pos[2], 0, 0, g.yaw, g.opening, g.holding ? 1 : 0]);
}
