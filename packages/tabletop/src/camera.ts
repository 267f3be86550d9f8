// Pinhole cameras: the static third-person camera and the one on the gripper.
import type { GripperState, Vec3 } from './world.ts';

export interface Camera {
  eye: Vec3;
  /** Orthonormal basis: image right, image up, and the viewing direction. */
  right: Vec3;
  up: Vec3;
  fwd: Vec3;
  /** Focal length in pixels. */
  focal: number;
  width: number;
  height: number;
  /** Near clipping distance, metres. */
  near: number;
}

const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const norm = (a: Vec3): Vec3 => {
  const l = Math.hypot(a[0], a[1], a[2]);
  return [a[0] / l, a[1] / l, a[2] / l];
};

/** A camera at `eye` looking at `target`, with vertical field of view `fovY` (degrees). */
export function lookAt(eye: Vec3, target: Vec3, upHint: Vec3, fovY: number, width: number, height: number, near = 0.01): Camera {
  const fwd = norm(sub(target, eye));
  const right = norm(cross(fwd, upHint));
  const up = cross(right, fwd);
  const focal = height / 2 / Math.tan((fovY * Math.PI) / 360);
  return { eye, right, up, fwd, focal, width, height, near };
}

/** The fixed third-person camera: in front of the table, above it, looking down at it. */
export function staticCamera(width = 128, height = 128): Camera {
  return lookAt([0, -0.76, 0.66], [0, 0.04, 0.0], [0, 0, 1], 46, width, height, 0.05);
}

/** Height of the gripper camera above the fingertips. */
export const GRIPPER_CAMERA_HEIGHT = 0.115;

/**
 * The camera on the gripper: above the fingers, looking straight down. Image right is
 * the direction the fingers open along, so the fingers sit at the left and right edges.
 */
export function gripperCamera(g: GripperState, width = 64, height = 64): Camera {
  const c = Math.cos(g.yaw), s = Math.sin(g.yaw);
  const fovY = 80;
  return {
    eye: [g.pos[0], g.pos[1], g.pos[2] + GRIPPER_CAMERA_HEIGHT],
    right: [c, s, 0],
    up: [-s, c, 0],
    fwd: [0, 0, -1],
    focal: height / 2 / Math.tan((fovY * Math.PI) / 360),
    width,
    height,
    near: 0.01,
  };
}

/** Pixel coordinates (x right, y down, pixel centres at +0.5) of a world point, or null behind the camera. */
export function projectPoint(cam: Camera, p: Vec3): [number, number] | null {
  const d = sub(p, cam.eye);
  const z = d[0] * cam.fwd[0] + d[1] * cam.fwd[1] + d[2] * cam.fwd[2];
  if (z < cam.near) return null;
  const x = d[0] * cam.right[0] + d[1] * cam.right[1] + d[2] * cam.right[2];
  const y = d[0] * cam.up[0] + d[1] * cam.up[1] + d[2] * cam.up[2];
  return [cam.width / 2 + (cam.focal * x) / z, cam.height / 2 - (cam.focal * y) / z];
}
