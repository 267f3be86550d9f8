// Turning a world state into pictures: build the scene's triangles once, then rasterize
// them through the static camera and through the gripper camera.
import { COLOR_RGB } from './catalog.ts';
import { gripperCamera, staticCamera, type Camera } from './camera.ts';
import { DrawList, type Light } from './drawlist.ts';
import type { EnvLayout } from './envs.ts';
import { MESHES } from './mesh.ts';
import { restingPlace } from './physics.ts';
import { makeFrame, rasterize, type Frame } from './raster.ts';
import {
  CABINET, DRAWER, FINGER_LENGTH, LAMP, TABLE, cabinetFront, dims, drawerHandle, gripperGap, lampOn, layoutOf, switchKnob,
  type ObjectState, type WorldState,
} from './world.ts';

/** Ids of the things in the id buffer. Objects use their own id (0..15). */
export const ID = {
  cabinet: 40,
  drawer: 41,
  handle: 42,
  lampBase: 43,
  switchKnob: 44,
  lamp: 45,
  table: 50,
  fingers: 60,
  arm: 61,
  none: 255,
} as const;

export interface CameraSizes {
  /** Static camera resolution (square or not), default 128x128. */
  staticWidth?: number;
  staticHeight?: number;
  /** Gripper camera resolution, default 64x64. */
  gripperWidth?: number;
  gripperHeight?: number;
}

export function checkCameraSizes(s: CameraSizes): Required<CameraSizes> {
  const out = {
    staticWidth: s.staticWidth ?? 128,
    staticHeight: s.staticHeight ?? 128,
    gripperWidth: s.gripperWidth ?? 64,
    gripperHeight: s.gripperHeight ?? 64,
  };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v < 8 || v > 2048) throw new Error(`camera size ${k} must be an integer in 8..2048, got ${v}`);
  }
  return out;
}

function lightOf(layout: EnvLayout): Light {
  const [x, y, z] = layout.light;
  const l = Math.hypot(x, y, z);
  return { dir: [x / l, y / l, z / l], color: layout.lightColor, ambient: layout.ambient };
}

const GREY: readonly [number, number, number] = [0.32, 0.33, 0.36];
const DARK: readonly [number, number, number] = [0.16, 0.16, 0.18];
const WOOD: readonly [number, number, number] = [0.7, 0.58, 0.42];
const WOOD_DARK: readonly [number, number, number] = [0.6, 0.48, 0.33];

/** All triangles of the scene (table, fixed items, objects, gripper, shadows). */
export function buildDrawList(state: WorldState, list: DrawList = new DrawList()): DrawList {
  list.clear();
  const layout = layoutOf(state);
  const light = lightOf(layout);
  addTable(list, layout, light);
  addCabinet(list, state, layout, light);
  addLamp(list, state, layout, light);
  for (const o of state.objects) addObject(list, o, light);
  addGripper(list, state, light);
  addShadows(list, state);
  return list;
}

function addTable(list: DrawList, layout: EnvLayout, light: Light): void {
  const tile = layout.texture === 'grid' ? 0.05 : 0.1;
  const nx = Math.round((TABLE.x1 - TABLE.x0) / tile), ny = Math.round((TABLE.y1 - TABLE.y0) / tile);
  const tw = (TABLE.x1 - TABLE.x0) / nx, th = (TABLE.y1 - TABLE.y0) / ny;
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      let which: number;
      switch (layout.texture) {
        case 'planks': which = j % 2; break;
        case 'checker': case 'grid': which = (i + j) % 2; break;
        case 'plain': which = 0; break;
      }
      const c = layout.table[which];
      // A faint per-tile variation (deterministic) so plain surfaces are not flat.
      const jitter = 1 + 0.03 * Math.sin(i * 12.9898 + j * 78.233);
      const rgb: [number, number, number] = [c[0] * jitter, c[1] * jitter, c[2] * jitter];
      list.add(MESHES.quad, TABLE.x0 + (i + 0.5) * tw, TABLE.y0 + (j + 0.5) * th, 0, 0, tw, th, 1, rgb, ID.table, light);
    }
  }
  // The floor far below, so cameras looking past the table edge see a surface.
  const f = layout.background;
  list.add(MESHES.quad, 0, -0.2, -0.4, 0, 1.8, 1.6, 1, [f[0] * 0.7, f[1] * 0.7, f[2] * 0.7], ID.none, light);
  // The table's front edge.
  const c = layout.table[1];
  list.add(MESHES.box, 0, TABLE.y0 + 0.01, -0.05, 0, TABLE.x1 - TABLE.x0, 0.02, 0.049, [c[0] * 0.7, c[1] * 0.7, c[2] * 0.7], ID.table, light);
}

function addCabinet(list: DrawList, state: WorldState, layout: EnvLayout, light: Light): void {
  const [cx, cy] = layout.cabinet;
  list.add(MESHES.box, cx, cy, 0, 0, CABINET.w, CABINET.d, CABINET.h, WOOD, ID.cabinet, light);
  const front = cabinetFront(layout);
  const open = state.drawer;
  const d = DRAWER;
  const y0 = front - open; // drawer front face
  const midY = y0 + d.d / 2;
  const wallH = d.top - d.floor + 0.008;
  list.add(MESHES.box, cx, midY, d.floor - 0.008, 0, d.w, d.d, 0.008, WOOD_DARK, ID.drawer, light); // floor
  list.add(MESHES.box, cx - d.w / 2 + d.wall / 2, midY, d.floor - 0.008, 0, d.wall, d.d, wallH, WOOD_DARK, ID.drawer, light);
  list.add(MESHES.box, cx + d.w / 2 - d.wall / 2, midY, d.floor - 0.008, 0, d.wall, d.d, wallH, WOOD_DARK, ID.drawer, light);
  list.add(MESHES.box, cx, y0 + d.d - d.wall / 2, d.floor - 0.008, 0, d.w, d.wall, wallH, WOOD_DARK, ID.drawer, light);
  list.add(MESHES.box, cx, y0 - 0.006, 0.008, 0, d.w + 0.012, 0.012, 0.094, WOOD, ID.drawer, light); // front panel
  const h = drawerHandle(layout, open);
  list.add(MESHES.box, h[0], h[1], h[2] - 0.007, 0, 0.09, 0.014, 0.014, DARK, ID.handle, light);
  list.add(MESHES.box, h[0] - 0.04, h[1] + 0.01, h[2] - 0.005, 0, 0.01, 0.02, 0.01, DARK, ID.handle, light);
  list.add(MESHES.box, h[0] + 0.04, h[1] + 0.01, h[2] - 0.005, 0, 0.01, 0.02, 0.01, DARK, ID.handle, light);
}

function addLamp(list: DrawList, state: WorldState, layout: EnvLayout, light: Light): void {
  const [lx, ly] = layout.lamp;
  list.add(MESHES.box, lx, ly, 0, 0, LAMP.w, LAMP.d, LAMP.h, GREY, ID.lampBase, light);
  // The slot the switch slides in.
  list.add(MESHES.box, lx - 0.03, ly - 0.012, LAMP.h, 0, LAMP.travel + 0.02, 0.008, 0.001, DARK, ID.lampBase, light);
  const k = switchKnob(layout, state.switchPos);
  list.add(MESHES.box, k[0], k[1], LAMP.h, 0, 0.02, 0.026, 0.024, [0.9, 0.45, 0.1], ID.switchKnob, light);
  const px = lx + 0.05, py = ly + 0.015;
  list.add(MESHES.cylinder, px, py, LAMP.h, 0, 0.007, 0.007, LAMP.postH - LAMP.h, GREY, ID.lamp, light);
  const on = lampOn(state);
  list.add(MESHES.sphere, px, py, LAMP.postH - 0.006, 0, LAMP.bulbR, LAMP.bulbR, LAMP.bulbR,
    on ? [1, 0.93, 0.35] : [0.78, 0.78, 0.76], ID.lamp, light, on);
}

function addObject(list: DrawList, o: ObjectState, light: Light): void {
  const d = dims(o);
  const rgb = COLOR_RGB[o.color];
  const [x, y, z] = o.pos;
  switch (o.shape) {
    case 'block': list.add(MESHES.box, x, y, z, o.yaw, d.lx, d.ly, d.h, rgb, o.id, light); break;
    case 'ball': list.add(MESHES.sphere, x, y, z, 0, d.r, d.r, d.r, rgb, o.id, light); break;
    case 'cup': list.add(MESHES.cup, x, y, z, 0, d.r, d.r, d.h, rgb, o.id, light); break;
    case 'bowl': list.add(MESHES.bowl, x, y, z, 0, d.r, d.r, d.h, rgb, o.id, light); break;
  }
}

function addGripper(list: DrawList, state: WorldState, light: Light): void {
  const g = state.gripper;
  const [x, y, z] = g.pos;
  const c = Math.cos(g.yaw), s = Math.sin(g.yaw);
  const half = gripperGap(g.opening) / 2 + 0.006;
  const finger: [number, number, number] = [0.25, 0.26, 0.3];
  for (const side of [-1, 1]) {
    list.add(MESHES.box, x + side * half * c, y + side * half * s, z, g.yaw, 0.012, 0.022, FINGER_LENGTH, finger, ID.fingers, light);
  }
  const palmW = gripperGap(g.opening) + 0.036;
  list.add(MESHES.box, x, y, z + FINGER_LENGTH, g.yaw, palmW, 0.03, 0.016, [0.5, 0.52, 0.56], ID.arm, light);
  list.add(MESHES.cylinder, x, y, z + FINGER_LENGTH + 0.016, 0, 0.018, 0.018, 0.04, [0.85, 0.85, 0.88], ID.arm, light);
  list.add(MESHES.cylinder, x, y, z + FINGER_LENGTH + 0.056, 0, 0.014, 0.014, 0.12, [0.88, 0.88, 0.9], ID.arm, light);
}

/** Soft blob shadows: a few nested discs on the surface under each object and the gripper. */
function addShadows(list: DrawList, state: WorldState): void {
  const blob = (x: number, y: number, surface: number, radius: number, height: number): void => {
    const fade = Math.max(0.25, 1 - height * 4);
    const spread = 1 + height * 2.5;
    for (const [k, strength] of [[1.35, 0.1], [1.1, 0.12], [0.85, 0.14]] as const) {
      list.addShadow(MESHES.disc, x, y, surface + 0.0015, radius * k * spread, strength * fade);
    }
  };
  for (const o of state.objects) {
    const d = dims(o);
    if (o.support === 'gripper') {
      const below = restingPlace(state, o, o.pos[0], o.pos[1]);
      blob(o.pos[0], o.pos[1], below.z, d.r, o.pos[2] - below.z);
    } else {
      blob(o.pos[0], o.pos[1], o.pos[2], d.r * (o.shape === 'bowl' ? 0.9 : 0.95), 0);
    }
  }
  const g = state.gripper;
  const probe: ObjectState = { id: -1, shape: 'ball', color: 'white', size: 'small', pos: g.pos, yaw: 0, support: 'gripper' };
  const below = restingPlace(state, probe, g.pos[0], g.pos[1]);
  if (!(g.holding && g.holding.kind === 'object')) blob(g.pos[0], g.pos[1], below.z, 0.025, g.pos[2] - below.z);
}

/** Ids the gripper camera does not draw: it sits inside the wrist, above the palm. */
const GRIPPER_CAMERA_SKIP: ReadonlySet<number> = new Set([ID.arm]);
const NO_SKIP: ReadonlySet<number> = new Set();

export interface RenderedViews {
  static: Frame;
  gripper: Frame;
  staticCamera: Camera;
  gripperCamera: Camera;
}

/** Reusable buffers for rendering many frames at one resolution. */
export class Renderer {
  readonly sizes: Required<CameraSizes>;
  private list = new DrawList();
  private staticFrame: Frame;
  private gripperFrame: Frame;
  private staticCam: Camera;

  constructor(sizes: CameraSizes = {}) {
    this.sizes = checkCameraSizes(sizes);
    this.staticFrame = makeFrame(this.sizes.staticWidth, this.sizes.staticHeight);
    this.gripperFrame = makeFrame(this.sizes.gripperWidth, this.sizes.gripperHeight);
    this.staticCam = staticCamera(this.sizes.staticWidth, this.sizes.staticHeight);
  }

  /**
   * Render both cameras. The returned frames are reused by the next call: copy what you keep.
   * With fill = false only the projected bounds (for gaze boxes) are computed, not pixels.
   */
  render(state: WorldState, fill = true): RenderedViews {
    const layout = layoutOf(state);
    buildDrawList(state, this.list);
    rasterize(this.list, this.staticCam, this.staticFrame, layout.background, NO_SKIP, fill);
    const gcam = gripperCamera(state.gripper, this.sizes.gripperWidth, this.sizes.gripperHeight);
    rasterize(this.list, gcam, this.gripperFrame, layout.background, GRIPPER_CAMERA_SKIP, fill);
    return { static: this.staticFrame, gripper: this.gripperFrame, staticCamera: this.staticCam, gripperCamera: gcam };
  }
}
