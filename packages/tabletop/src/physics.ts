// One simulator step under kinematic rules (there is no physics engine):
//  - the gripper moves by the action, clipped to the workspace;
//  - a closing gripper grasps an object (or a handle) that sits between its fingers;
//  - a held object follows the gripper; a held handle drags its joint along its axis;
//  - a closed, empty gripper low on the table pushes the objects it runs into;
//  - an opening gripper releases; the object lands on whatever is below it.
// Objects that rest on a moving object (a stack, a bowl's content, the drawer's content)
// move along with it.
import { isGraspable } from './catalog.ts';
import {
  CABINET, DRAWER, DRAWER_MAX_OPEN, FINGER_LENGTH, GAP_CLOSED, GAP_OPEN, LAMP, MAX_ROTATION, MAX_TRANSLATION,
  OPENING_RATE, PUSH_RADIUS, TABLE, WORKSPACE,
  dims, drawerHandle, drawerOpenArea, gripperGap, insideClosedDrawer, layoutOf, objectById,
  switchKnob, type ObjectState, type Support, type Vec3, type WorldState,
} from './world.ts';

/** A 7-D relative action (dx, dy, dz, droll, dpitch, dyaw, gripper), each in [-1, 1]. */
export type Action = Float32Array | readonly number[];

export const ACTION_DIM = 7;

/** Check an action's shape and values; returns a clipped copy. */
export function sanitizeAction(action: Action): Float32Array {
  if (action === null || action === undefined || typeof action.length !== 'number') {
    throw new Error(`action must be an array of ${ACTION_DIM} numbers, got ${String(action)}`);
  }
  if (action.length !== ACTION_DIM) {
    throw new Error(`action must have ${ACTION_DIM} components (dx, dy, dz, droll, dpitch, dyaw, gripper), got ${action.length}`);
  }
  const out = new Float32Array(ACTION_DIM);
  for (let i = 0; i < ACTION_DIM; i++) {
    const v = action[i] as number;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`action[${i}] is not a finite number: ${String(v)}`);
    out[i] = Math.max(-1, Math.min(1, v));
  }
  return out;
}

const clamp = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);

/** Apply one action to the state, in place. */
export function stepWorld(state: WorldState, action: Action): void {
  const a = sanitizeAction(action);
  const g = state.gripper;
  const opening = (a[6] as number) >= 0;
  // Opening fingers let go before the arm moves on, so a release does not drag what was held.
  if (opening && g.holding) letGo(state);

  const old: Vec3 = [g.pos[0], g.pos[1], g.pos[2]];
  const next: Vec3 = [
    clamp(old[0] + (a[0] as number) * MAX_TRANSLATION, WORKSPACE.x0, WORKSPACE.x1),
    clamp(old[1] + (a[1] as number) * MAX_TRANSLATION, WORKSPACE.y0, WORKSPACE.y1),
    clamp(old[2] + (a[2] as number) * MAX_TRANSLATION, WORKSPACE.z0, WORKSPACE.z1),
  ];
  const nextYaw = clamp(g.yaw + (a[5] as number) * MAX_ROTATION, -Math.PI, Math.PI);

  if (g.holding === null && g.opening < 0.3) pushObjects(state, old, next);

  g.pos = next;
  g.yaw = nextYaw;
  const h = g.holding;
  if (h && h.kind === 'object') {
    const o = objectById(state, h.id);
    const c = Math.cos(nextYaw), s = Math.sin(nextYaw);
    const target: Vec3 = [next[0] + c * h.offset[0] - s * h.offset[1], next[1] + s * h.offset[0] + c * h.offset[1], next[2] + h.offset[2]];
    moveWithDependents(state, o, target[0] - o.pos[0], target[1] - o.pos[1], target[2] - o.pos[2], nextYaw + h.yawOffset - o.yaw);
  } else if (h && h.kind === 'handle') {
    dragHandle(state);
  }

  if (opening) {
    g.command = 1;
    g.opening = Math.min(1, g.opening + OPENING_RATE);
  } else {
    g.command = -1;
    if (g.holding === null) {
      const before = g.opening;
      g.opening = Math.max(0, g.opening - OPENING_RATE);
      tryGrasp(state, before);
    }
  }
  state.step++;
}

/** Release what the gripper holds: an object drops onto what is below; the switch snaps to an end. */
function letGo(state: WorldState): void {
  const h = state.gripper.holding;
  if (h && h.kind === 'object') release(state, objectById(state, h.id));
  if (h && h.kind === 'handle' && h.item === 'switch') state.switchPos = state.switchPos > 0.5 ? 1 : 0;
  state.gripper.holding = null;
}

/** Translate (and turn) an object and everything resting on it, recursively. */
export function moveWithDependents(state: WorldState, o: ObjectState, dx: number, dy: number, dz: number, dyaw = 0): void {
  o.pos = [o.pos[0] + dx, o.pos[1] + dy, o.pos[2] + dz];
  o.yaw += dyaw;
  for (const d of state.objects) if (d.support === o.id) moveWithDependents(state, d, dx, dy, dz, dyaw);
}

/** The objects stacked above `o` (directly or not). */
function dependentsOf(state: WorldState, o: ObjectState, out: Set<number> = new Set()): Set<number> {
  for (const d of state.objects) {
    if (d.support === o.id && !out.has(d.id)) {
      out.add(d.id);
      dependentsOf(state, d, out);
    }
  }
  return out;
}

/**
 * Where an object whose footprint centre is at (x, y) comes to rest: the highest surface
 * under it. Ignores the object itself, what is stacked on it, and what the gripper holds.
 */
export function restingPlace(state: WorldState, o: ObjectState, x: number, y: number): { z: number; support: Support } {
  const layout = layoutOf(state);
  const r1 = dims(o).r;
  let best: { z: number; support: Support } = { z: 0, support: 'table' };
  const consider = (z: number, support: Support): void => {
    if (z > best.z) best = { z, support };
  };
  const [cx, cy] = layout.cabinet;
  if (Math.abs(x - cx) <= CABINET.w / 2 && Math.abs(y - cy) <= CABINET.d / 2) consider(CABINET.h, 'cabinet');
  const area = drawerOpenArea(layout, state.drawer);
  if (state.drawer > 0.02 && x >= area.x0 && x <= area.x1 && y >= area.y0 - 0.01 && y <= area.y1) consider(DRAWER.floor, 'drawer');
  const [lx, ly] = layout.lamp;
  if (Math.abs(x - lx) <= LAMP.w / 2 && Math.abs(y - ly) <= LAMP.d / 2) consider(LAMP.h, 'lamp');
  const skip = dependentsOf(state, o);
  skip.add(o.id);
  for (const p of state.objects) {
    if (skip.has(p.id) || p.support === 'gripper' || insideClosedDrawer(state, p)) continue;
    const dp = dims(p);
    const d = Math.hypot(x - p.pos[0], y - p.pos[1]);
    if (p.shape === 'bowl') {
      if (d < dp.r - 0.6 * r1) consider(p.pos[2] + 0.006, p.id);
      else if (d < dp.r + 0.3 * r1) consider(p.pos[2] + dp.h, p.id);
    } else if (d < 0.7 * (r1 + dp.r)) {
      consider(p.pos[2] + dp.h, p.id);
    }
  }
  return best;
}

function release(state: WorldState, o: ObjectState): void {
  const x = clamp(o.pos[0], TABLE.x0 + 0.02, TABLE.x1 - 0.02);
  const y = clamp(o.pos[1], TABLE.y0 + 0.02, TABLE.y1 - 0.02);
  const rest = restingPlace(state, o, x, y);
  moveWithDependents(state, o, x - o.pos[0], y - o.pos[1], rest.z - o.pos[2]);
  o.support = rest.support;
}

/** Width of the object measured along the finger axis, for a gripper at yaw `gripYaw`. */
export function widthAcrossFingers(o: ObjectState, gripYaw: number): number {
  const d = dims(o);
  if (o.shape !== 'block') return d.graspWidth;
  const t = o.yaw - gripYaw;
  return Math.abs(d.lx * Math.cos(t)) + Math.abs(d.ly * Math.sin(t));
}

function tryGrasp(state: WorldState, openingBefore: number): void {
  const g = state.gripper;
  const gapBefore = gripperGap(openingBefore);
  const gapNow = gripperGap(g.opening);
  const ax = Math.cos(g.yaw), ay = Math.sin(g.yaw);
  let best: ObjectState | null = null;
  let bestDist = Infinity;
  for (const o of state.objects) {
    if (!isGraspable(o.shape) || o.support === 'gripper' || insideClosedDrawer(state, o)) continue;
    const d = dims(o);
    const w = widthAcrossFingers(o, g.yaw);
    const rx = o.pos[0] - g.pos[0], ry = o.pos[1] - g.pos[1];
    const u = rx * ax + ry * ay; // along the finger axis
    const v = -rx * ay + ry * ax; // across it
    const fits = Math.abs(u) + w / 2 <= gapBefore / 2 + 0.004;
    const touched = gapNow <= w;
    const aligned = Math.abs(v) < 0.018;
    const level = g.pos[2] >= o.pos[2] - 0.01 && g.pos[2] <= o.pos[2] + d.h - 0.008;
    if (fits && touched && aligned && level) {
      const dist = Math.hypot(u, v);
      if (dist < bestDist) {
        best = o;
        bestDist = dist;
      }
    }
  }
  if (best) {
    // The fingers squeeze the object to the middle of the gap.
    const rx = best.pos[0] - g.pos[0], ry = best.pos[1] - g.pos[1];
    const u = rx * ax + ry * ay;
    moveWithDependents(state, best, -u * ax, -u * ay, 0);
    const v = -(best.pos[0] - g.pos[0]) * ay + (best.pos[1] - g.pos[1]) * ax;
    g.holding = { kind: 'object', id: best.id, offset: [0, v, best.pos[2] - g.pos[2]], yawOffset: best.yaw - g.yaw };
    best.support = 'gripper';
    g.opening = Math.max(0, (widthAcrossFingers(best, g.yaw) - GAP_CLOSED) / (GAP_OPEN - GAP_CLOSED));
    return;
  }
  // Handles: the drawer's bar and the switch knob.
  const layout = layoutOf(state);
  // A handle is only caught by fingers that were open around it, not by a closed gripper passing by.
  if (gapBefore < 0.03) return;
  const hd = drawerHandle(layout, state.drawer);
  if (Math.abs(g.pos[0] - hd[0]) < 0.035 && Math.abs(g.pos[1] - hd[1]) < 0.018 && Math.abs(g.pos[2] - hd[2]) < 0.02 && gapNow <= 0.03) {
    g.holding = { kind: 'handle', item: 'drawer', jointAtGrab: state.drawer, gripAtGrab: [...g.pos] };
    g.opening = (0.016 - GAP_CLOSED) / (GAP_OPEN - GAP_CLOSED);
    return;
  }
  const k = switchKnob(layout, state.switchPos);
  if (Math.abs(g.pos[0] - k[0]) < 0.018 && Math.abs(g.pos[1] - k[1]) < 0.018 && Math.abs(g.pos[2] - k[2]) < 0.02 && gapNow <= 0.03) {
    g.holding = { kind: 'handle', item: 'switch', jointAtGrab: state.switchPos, gripAtGrab: [...g.pos] };
    g.opening = (0.02 - GAP_CLOSED) / (GAP_OPEN - GAP_CLOSED);
  }
}

/** A held handle moves its joint with the gripper's motion along the joint's axis. */
function dragHandle(state: WorldState): void {
  const g = state.gripper;
  const h = g.holding;
  if (!h || h.kind !== 'handle') return;
  const layout = layoutOf(state);
  if (h.item === 'drawer') {
    const before = state.drawer;
    state.drawer = clamp(h.jointAtGrab + (h.gripAtGrab[1] - g.pos[1]), 0, DRAWER_MAX_OPEN);
    const dy = -(state.drawer - before);
    if (dy !== 0) for (const o of state.objects) if (o.support === 'drawer') moveWithDependents(state, o, 0, dy, 0);
    const hp = drawerHandle(layout, state.drawer);
    if (Math.abs(g.pos[0] - hp[0]) > 0.05 || Math.abs(g.pos[1] - hp[1]) > 0.04 || Math.abs(g.pos[2] - hp[2]) > 0.04) g.holding = null;
  } else {
    state.switchPos = clamp(h.jointAtGrab + (g.pos[0] - h.gripAtGrab[0]) / LAMP.travel, 0, 1);
    const k = switchKnob(layout, state.switchPos);
    if (Math.abs(g.pos[0] - k[0]) > 0.04 || Math.abs(g.pos[1] - k[1]) > 0.04 || Math.abs(g.pos[2] - k[2]) > 0.04) g.holding = null;
  }
}

/** A closed gripper moving low through the scene shoves the loose objects it meets. */
function pushObjects(state: WorldState, from: Vec3, to: Vec3): void {
  const dx = to[0] - from[0], dy = to[1] - from[1];
  if (dx === 0 && dy === 0) return;
  const moved = new Set<number>();
  for (const o of state.objects) {
    if (o.support !== 'table' || o.shape === 'bowl') continue;
    const d = dims(o);
    const verticalOverlap = to[2] < o.pos[2] + d.h && to[2] + FINGER_LENGTH > o.pos[2];
    if (!verticalOverlap) continue;
    const rx = o.pos[0] - to[0], ry = o.pos[1] - to[1];
    const towards = rx * dx + ry * dy > 0;
    if (Math.hypot(rx, ry) < PUSH_RADIUS + d.r && towards) shove(state, o, dx, dy, moved);
  }
}

/** Move a loose object by (dx, dy), and with it the loose objects it runs into. */
function shove(state: WorldState, o: ObjectState, dx: number, dy: number, moved: Set<number>): void {
  if (moved.has(o.id)) return;
  moved.add(o.id);
  const r = dims(o).r;
  const nx = clamp(o.pos[0] + dx, TABLE.x0 + r, TABLE.x1 - r);
  const ny = clamp(o.pos[1] + dy, TABLE.y0 + r, TABLE.y1 - r);
  moveWithDependents(state, o, nx - o.pos[0], ny - o.pos[1], 0);
  for (const p of state.objects) {
    if (p.id === o.id || p.support !== 'table' || p.shape === 'bowl' || moved.has(p.id)) continue;
    const rx = p.pos[0] - o.pos[0], ry = p.pos[1] - o.pos[1];
    if (Math.hypot(rx, ry) < r + dims(p).r - 0.004 && rx * dx + ry * dy > 0) shove(state, p, dx, dy, moved);
  }
}
