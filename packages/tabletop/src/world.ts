// The world state: a plain, JSON-serializable object. Everything the simulator, the
// renderer, the tasks and the expert know about the scene is in here (plus the fixed
// layout of its environment, looked up by name), so a state can be saved, copied with
// structuredClone and restored exactly.
import { dimsOf, type Color, type Dims, type Shape, type Size } from './catalog.ts';
import { ENVS, type EnvLayout, type EnvName } from './envs.ts';

export type Vec3 = [number, number, number];

/** What an object rests on: the table, another object (by id), a fixed item, or the gripper. */
export type Support = 'table' | 'drawer' | 'cabinet' | 'lamp' | 'gripper' | number;

export interface ObjectState {
  id: number;
  shape: Shape;
  color: Color;
  size: Size;
  /** Centre of the object's bottom face, metres. */
  pos: Vec3;
  /** Rotation about +z, radians. */
  yaw: number;
  support: Support;
}

export type Holding =
  | null
  | { kind: 'object'; id: number; offset: Vec3; yawOffset: number }
  | { kind: 'handle'; item: 'drawer' | 'switch'; jointAtGrab: number; gripAtGrab: Vec3 };

export interface GripperState {
  /** Point between the fingertips, metres. */
  pos: Vec3;
  yaw: number;
  /** 0 closed .. 1 fully open. */
  opening: number;
  /** Last gripper command: +1 open, -1 close. */
  command: 1 | -1;
  holding: Holding;
}

export interface WorldState {
  env: EnvName;
  step: number;
  objects: ObjectState[];
  gripper: GripperState;
  /** How far the drawer is pulled out, metres, 0 .. DRAWER_MAX_OPEN. */
  drawer: number;
  /** Switch slider position, 0 (left, lamp off) .. 1 (right, lamp on). */
  switchPos: number;
  /** Where the cabinet and the lamp stand when not where the env puts them (randomised fixtures). */
  fixtures?: Fixtures;
}

/** Positions of the fixed items on the table (an EnvLayout's cabinet and lamp). */
export type Fixtures = Pick<EnvLayout, 'cabinet' | 'lamp'>;

// --- Constants of the robot and the fixed items -------------------------------------------

export const TABLE = { x0: -0.5, x1: 0.5, y0: -0.36, y1: 0.34 } as const;
/** Where loose objects are placed when a scene is sampled. */
export const OBJECT_REGION = { x0: -0.36, x1: 0.36, y0: -0.22, y1: 0.11 } as const;
export const WORKSPACE = { x0: -0.48, x1: 0.48, y0: -0.36, y1: 0.34, z0: 0.004, z1: 0.32 } as const;

export const MAX_TRANSLATION = 0.02; // metres per step at |action| = 1
export const MAX_ROTATION = 0.15; // radians per step at |action| = 1
export const OPENING_RATE = 0.34; // fraction of full opening per step
export const GAP_CLOSED = 0.006; // finger gap when fully closed, metres
export const GAP_OPEN = 0.1;
export const FINGER_LENGTH = 0.05;
/** Radius of the closed gripper's footprint when it pushes objects. */
export const PUSH_RADIUS = 0.016;
export const HOME: Vec3 = [0, -0.25, 0.2];

export const CABINET = { w: 0.24, d: 0.16, h: 0.11 } as const;
export const DRAWER = { w: 0.2, d: 0.14, floor: 0.016, top: 0.085, wall: 0.008 } as const;
export const DRAWER_MAX_OPEN = 0.13;
export const DRAWER_OPEN_AT = 0.09; // "open" for tasks and success detection
export const DRAWER_CLOSED_AT = 0.015;
export const LAMP = { w: 0.15, d: 0.08, h: 0.03, travel: 0.08, postH: 0.2, bulbR: 0.03 } as const;

export function gripperGap(opening: number): number {
  return GAP_CLOSED + (GAP_OPEN - GAP_CLOSED) * opening;
}

/** The env's layout, with the scene's own fixture positions where it has them. */
export function layoutOf(state: Pick<WorldState, 'env' | 'fixtures'>): EnvLayout {
  return state.fixtures ? { ...ENVS[state.env], ...state.fixtures } : ENVS[state.env];
}

export function dims(o: ObjectState): Dims {
  return dimsOf(o.shape, o.size);
}

export function lampOn(state: WorldState): boolean {
  return state.switchPos > 0.5;
}

// --- Fixed-item geometry that depends on the joints ---------------------------------------

/** y of the cabinet's front face (the drawer slides out of it towards -y). */
export function cabinetFront(layout: EnvLayout): number {
  return layout.cabinet[1] - CABINET.d / 2;
}

/** The drawer handle's grasp point. */
export function drawerHandle(layout: EnvLayout, opening: number): Vec3 {
  return [layout.cabinet[0], cabinetFront(layout) - opening - 0.022, 0.05];
}

/** The part of the drawer's floor outside the cabinet, where objects can be put. */
export function drawerOpenArea(layout: EnvLayout, opening: number): { x0: number; x1: number; y0: number; y1: number } {
  const front = cabinetFront(layout);
  const half = DRAWER.w / 2 - DRAWER.wall;
  return { x0: layout.cabinet[0] - half, x1: layout.cabinet[0] + half, y0: front - opening + DRAWER.wall, y1: front };
}

/** The switch knob's grasp point. */
export function switchKnob(layout: EnvLayout, pos: number): Vec3 {
  return [layout.lamp[0] - 0.03 - LAMP.travel / 2 + LAMP.travel * pos, layout.lamp[1] - 0.012, LAMP.h + 0.012];
}

/** Axis-aligned footprint rectangles of the fixed items (cabinet plus drawer sweep, lamp). */
export function fixtureFootprints(layout: EnvLayout): { x0: number; x1: number; y0: number; y1: number }[] {
  const [cx, cy] = layout.cabinet;
  const [lx, ly] = layout.lamp;
  return [
    { x0: cx - CABINET.w / 2, x1: cx + CABINET.w / 2, y0: cy - CABINET.d / 2 - DRAWER_MAX_OPEN - 0.03, y1: cy + CABINET.d / 2 },
    { x0: lx - LAMP.w / 2, x1: lx + LAMP.w / 2, y0: ly - LAMP.d / 2, y1: ly + LAMP.d / 2 },
  ];
}

export function objectById(state: WorldState, id: number): ObjectState {
  const o = state.objects[id];
  if (!o || o.id !== id) throw new Error(`no object with id ${id}`);
  return o;
}

/** Objects resting (directly) on object `id`. */
export function objectsOn(state: WorldState, id: number): ObjectState[] {
  return state.objects.filter((o) => o.support === id);
}

export function heldObject(state: WorldState): ObjectState | null {
  const h = state.gripper.holding;
  return h && h.kind === 'object' ? objectById(state, h.id) : null;
}

/** True when the object sits in the drawer while the drawer is (nearly) closed: out of reach. */
export function insideClosedDrawer(state: WorldState, o: ObjectState): boolean {
  let s: Support = o.support;
  // Walk down a stack to its base.
  for (let guard = 0; typeof s === 'number' && guard < 16; guard++) s = objectById(state, s).support;
  return s === 'drawer' && state.drawer < DRAWER_OPEN_AT;
}

export function wrapAngle(a: number): number {
  return Math.atan2(Math.sin(a), Math.cos(a));
}
