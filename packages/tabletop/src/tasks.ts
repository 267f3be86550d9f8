// The tasks: what each one asks, when it can be asked (its precondition on the state),
// and when it is done (its success detector, comparing the state with a snapshot taken
// when the task began, as CALVIN does).
import { isGraspable } from './catalog.ts';
import {
  DRAWER_CLOSED_AT, DRAWER_OPEN_AT, OBJECT_REGION, PUSH_RADIUS, dims, fixtureFootprints, insideClosedDrawer, lampOn, layoutOf,
  objectById, wrapAngle, type ObjectState, type Support, type Vec3, type WorldState,
} from './world.ts';

export const TASK_KINDS = [
  'lift', 'place_in_bowl', 'stack', 'unstack',
  'push_left', 'push_right', 'push_forward', 'push_back',
  'rotate_left', 'rotate_right',
  'open_drawer', 'close_drawer', 'put_in_drawer', 'take_from_drawer', 'take_from_bowl',
  'lamp_on', 'lamp_off',
] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** A task: its kind, the object acted on and the place target (bowl or block), by object id. */
export interface TaskSpec {
  kind: TaskKind;
  object?: number;
  target?: number;
}

/** A task under way: the spec plus what the state looked like when it began. */
export interface ActiveTask {
  spec: TaskSpec;
  start: { pos: Vec3 | null; yaw: number; support: Support | null; drawer: number; switchPos: number };
}

/** Evaluation (non-strict) accepts a drawer this far out for putting things in or taking them out. */
export const DRAWER_USABLE_AT = 0.06;

/** How far a push must move the object (metres) and how far the expert pushes it. */
export const PUSH_SUCCESS = 0.06;
export const PUSH_DISTANCE = 0.1;
/** How far a rotation must turn the object (radians) and how far the expert turns it. */
export const ROTATE_SUCCESS = 0.5;
export const ROTATE_ANGLE = 0.8;
export const LIFT_SUCCESS = 0.05;

export const PUSH_DIRS: Record<'push_left' | 'push_right' | 'push_forward' | 'push_back', readonly [number, number]> = {
  push_left: [-1, 0],
  push_right: [1, 0],
  push_forward: [0, 1], // away from the static camera
  push_back: [0, -1], // towards it
};

export function isPush(kind: TaskKind): kind is keyof typeof PUSH_DIRS {
  return kind in PUSH_DIRS;
}

export function parseTaskKind(s: string): TaskKind {
  if ((TASK_KINDS as readonly string[]).includes(s)) return s as TaskKind;
  throw new Error(`unknown task "${s}": expected one of ${TASK_KINDS.join(', ')}`);
}

/** Does the task need an object / a place target? */
export function taskArity(kind: TaskKind): { object: boolean; target: boolean } {
  switch (kind) {
    case 'open_drawer': case 'close_drawer': case 'lamp_on': case 'lamp_off': return { object: false, target: false };
    case 'place_in_bowl': case 'stack': return { object: true, target: true };
    default: return { object: true, target: false };
  }
}

const hasNothingOn = (s: WorldState, o: ObjectState): boolean => !s.objects.some((p) => p.support === o.id);
const isHeld = (o: ObjectState): boolean => o.support === 'gripper';
/** Loose, graspable, with nothing on top, reachable (not shut in the drawer). */
const pickable = (s: WorldState, o: ObjectState): boolean =>
  isGraspable(o.shape) && hasNothingOn(s, o) && !insideClosedDrawer(s, o);

/** Where a pushed object would end up, if that spot is free; null otherwise. */
export function pushDestination(s: WorldState, o: ObjectState, kind: keyof typeof PUSH_DIRS): Vec3 | null {
  const [dx, dy] = PUSH_DIRS[kind];
  const r = dims(o).r;
  const x = o.pos[0] + dx * PUSH_DISTANCE, y = o.pos[1] + dy * PUSH_DISTANCE;
  const region = { x0: OBJECT_REGION.x0 - 0.06, x1: OBJECT_REGION.x1 + 0.06, y0: OBJECT_REGION.y0 - 0.06, y1: OBJECT_REGION.y1 + 0.04 };
  if (x - r < region.x0 || x + r > region.x1 || y - r < region.y0 || y + r > region.y1) return null;
  // The gripper starts behind the object: that spot must be on the table too.
  const bx = o.pos[0] - dx * (r + PUSH_RADIUS + 0.03), by = o.pos[1] - dy * (r + PUSH_RADIUS + 0.03);
  if (bx < -0.46 || bx > 0.46 || by < -0.34 || by > 0.3) return null;
  for (const f of fixtureFootprints(layoutOf(s))) {
    if (x > f.x0 - r - 0.01 && x < f.x1 + r + 0.01 && y > f.y0 - r - 0.01 && y < f.y1 + r + 0.01) return null;
  }
  for (const p of s.objects) {
    if (p.id === o.id || isHeld(p)) continue;
    const rp = dims(p).r;
    // Nothing at the destination, nor in the lane the object and the gripper sweep.
    for (let t = 0.25; t <= 1.001; t += 0.25) {
      const qx = o.pos[0] + dx * PUSH_DISTANCE * t, qy = o.pos[1] + dy * PUSH_DISTANCE * t;
      if (Math.hypot(p.pos[0] - qx, p.pos[1] - qy) < r + rp + 0.012) return null;
    }
    if (Math.hypot(p.pos[0] - bx, p.pos[1] - by) < rp + PUSH_RADIUS + 0.01) return null;
  }
  return [x, y, 0];
}

/**
 * Why the task cannot be asked in this state, or null when it can. `strict` (the default,
 * used when sampling tasks) also demands free room for a push; evaluation relaxes it, since
 * a policy's earlier moves may leave objects closer together than the expert would.
 */
export function taskProblem(s: WorldState, spec: TaskSpec, strict = true): string | null {
  const ar = taskArity(spec.kind);
  const get = (id: number | undefined, role: string): ObjectState | string => {
    if (id === undefined) return `task ${spec.kind} needs ${role}`;
    const o = s.objects[id];
    return o ? o : `task ${spec.kind}: no object with id ${id} (scene has ${s.objects.length})`;
  };
  let o: ObjectState | null = null;
  if (ar.object) {
    const r = get(spec.object, 'an object');
    if (typeof r === 'string') return r;
    o = r;
    if (!isGraspable(o.shape)) return `task ${spec.kind}: object ${o.id} is a ${o.shape}, which cannot be grasped`;
  } else if (spec.object !== undefined) return `task ${spec.kind} takes no object`;
  let t: ObjectState | null = null;
  if (ar.target) {
    const r = get(spec.target, 'a target');
    if (typeof r === 'string') return r;
    t = r;
  } else if (spec.target !== undefined) return `task ${spec.kind} takes no target`;
  switch (spec.kind) {
    case 'lift':
      if (isHeld(o!) || !pickable(s, o!)) return `object ${o!.id} cannot be lifted now (held, covered or shut in the drawer)`;
      return null;
    case 'place_in_bowl':
      if (t!.shape !== 'bowl') return `target ${t!.id} is a ${t!.shape}, not a bowl`;
      if (!hasNothingOn(s, t!)) return `bowl ${t!.id} is not empty`;
      if (o!.support === t!.id) return `object ${o!.id} is already in bowl ${t!.id}`;
      if (!isHeld(o!) && !pickable(s, o!)) return `object ${o!.id} cannot be picked up now`;
      return null;
    case 'stack':
      if (o!.shape !== 'block' || t!.shape !== 'block') return 'stack needs two blocks';
      if (o!.id === t!.id) return 'cannot stack a block on itself';
      if (t!.support !== 'table' || !hasNothingOn(s, t!)) return `block ${t!.id} is not a free block on the table`;
      if (!isHeld(o!) && !pickable(s, o!)) return `block ${o!.id} cannot be picked up now`;
      return null;
    case 'unstack': {
      const base = typeof o!.support === 'number' ? objectById(s, o!.support) : null;
      if (!base || base.shape !== 'block' || o!.shape !== 'block') return `block ${o!.id} is not stacked on a block`;
      if (!pickable(s, o!)) return `block ${o!.id} cannot be picked up now`;
      return null;
    }
    case 'push_left': case 'push_right': case 'push_forward': case 'push_back':
      if (o!.support !== 'table' || !hasNothingOn(s, o!)) return `object ${o!.id} is not a free object on the table`;
      if (strict && !pushDestination(s, o!, spec.kind)) return `object ${o!.id} has no free room for ${spec.kind}`;
      return null;
    case 'rotate_left': case 'rotate_right':
      if (o!.shape !== 'block') return 'only blocks can be rotated (the other shapes look the same turned)';
      if (isHeld(o!) || !pickable(s, o!)) return `block ${o!.id} cannot be picked up now`;
      return null;
    case 'open_drawer':
      return s.drawer <= DRAWER_CLOSED_AT ? null : 'the drawer is not closed';
    case 'close_drawer':
      return s.drawer >= DRAWER_OPEN_AT ? null : 'the drawer is not open';
    case 'put_in_drawer':
      if (s.drawer < (strict ? DRAWER_OPEN_AT : DRAWER_USABLE_AT)) return 'the drawer is not open';
      if (s.objects.some((p) => p.support === 'drawer')) return 'the drawer already holds an object';
      if (o!.support === 'drawer') return `object ${o!.id} is already in the drawer`;
      if (!isHeld(o!) && !pickable(s, o!)) return `object ${o!.id} cannot be picked up now`;
      return null;
    case 'take_from_drawer':
      if (o!.support !== 'drawer') return `object ${o!.id} is not in the drawer`;
      if (s.drawer < (strict ? DRAWER_OPEN_AT : DRAWER_USABLE_AT)) return 'the drawer is not open';
      if (!pickable(s, o!)) return `object ${o!.id} cannot be picked up now`;
      return null;
    case 'take_from_bowl': {
      const bowl = typeof o!.support === 'number' ? objectById(s, o!.support) : null;
      if (!bowl || bowl.shape !== 'bowl') return `object ${o!.id} is not in a bowl`;
      if (!pickable(s, o!)) return `object ${o!.id} cannot be picked up now`;
      return null;
    }
    case 'lamp_on':
      return lampOn(s) ? 'the lamp is already on' : null;
    case 'lamp_off':
      return lampOn(s) ? null : 'the lamp is already off';
  }
}

export function isFeasible(s: WorldState, spec: TaskSpec): boolean {
  return taskProblem(s, spec) === null;
}

/** Every task instance that can be asked in this state. */
export function feasibleTasks(s: WorldState): TaskSpec[] {
  const out: TaskSpec[] = [];
  for (const kind of TASK_KINDS) {
    const ar = taskArity(kind);
    if (!ar.object) {
      if (isFeasible(s, { kind })) out.push({ kind });
      continue;
    }
    for (const o of s.objects) {
      if (!ar.target) {
        if (isFeasible(s, { kind, object: o.id })) out.push({ kind, object: o.id });
        continue;
      }
      for (const t of s.objects) if (isFeasible(s, { kind, object: o.id, target: t.id })) out.push({ kind, object: o.id, target: t.id });
    }
  }
  return out;
}

export function beginTask(s: WorldState, spec: TaskSpec, strict = true): ActiveTask {
  const problem = taskProblem(s, spec, strict);
  if (problem) throw new Error(`task ${spec.kind} cannot start: ${problem}`);
  const o = spec.object !== undefined ? objectById(s, spec.object) : null;
  return {
    spec: { ...spec },
    start: { pos: o ? [...o.pos] : null, yaw: o ? o.yaw : 0, support: o ? o.support : null, drawer: s.drawer, switchPos: s.switchPos },
  };
}

/**
 * Object o lies in bowl b: it rests on the bowl and its centre is within the rim minus its own
 * radius, so its whole footprint is inside the rim. (Where a released object lands is decided
 * by physics' restingPlace, which also lets objects sit on the rim; sitting there is not "in".)
 */
export function liesInBowl(o: ObjectState, bowl: ObjectState): boolean {
  if (o.support !== bowl.id || bowl.shape !== 'bowl') return false;
  return Math.hypot(o.pos[0] - bowl.pos[0], o.pos[1] - bowl.pos[1]) <= dims(bowl).r - dims(o).r;
}

/**
 * Block o rests on block base with its centre over base's top face: the centre, in the base's
 * frame (its yaw), is within half its length and half its width. A block whose centre is
 * beyond the face would tip off, whatever physics' support rule let it do.
 */
export function restsOnTopFace(o: ObjectState, base: ObjectState): boolean {
  if (o.support !== base.id || base.shape !== 'block') return false;
  const d = dims(base), c = Math.cos(base.yaw), sn = Math.sin(base.yaw);
  const rx = o.pos[0] - base.pos[0], ry = o.pos[1] - base.pos[1];
  return Math.abs(rx * c + ry * sn) <= d.lx / 2 && Math.abs(-rx * sn + ry * c) <= d.ly / 2;
}

/** The success detector. */
export function isSuccess(s: WorldState, task: ActiveTask): boolean {
  const { spec, start } = task;
  const o = spec.object !== undefined ? objectById(s, spec.object) : null;
  switch (spec.kind) {
    case 'lift':
      return isHeld(o!) && o!.pos[2] >= start.pos![2] + LIFT_SUCCESS;
    case 'place_in_bowl':
      return liesInBowl(o!, objectById(s, spec.target!));
    case 'stack':
      return restsOnTopFace(o!, objectById(s, spec.target!));
    case 'unstack':
      return o!.support !== start.support && (!isHeld(o!) || o!.pos[2] >= start.pos![2] + 0.03);
    case 'push_left': case 'push_right': case 'push_forward': case 'push_back': {
      const [dx, dy] = PUSH_DIRS[spec.kind];
      const moved = (o!.pos[0] - start.pos![0]) * dx + (o!.pos[1] - start.pos![1]) * dy;
      return o!.support === 'table' && moved >= PUSH_SUCCESS;
    }
    case 'rotate_left': case 'rotate_right': {
      if (isHeld(o!)) return false;
      const turned = wrapAngle(o!.yaw - start.yaw);
      return spec.kind === 'rotate_left' ? turned >= ROTATE_SUCCESS : turned <= -ROTATE_SUCCESS;
    }
    case 'open_drawer':
      return s.drawer >= DRAWER_OPEN_AT;
    case 'close_drawer':
      return s.drawer <= DRAWER_CLOSED_AT;
    case 'put_in_drawer':
      return o!.support === 'drawer';
    case 'take_from_drawer': case 'take_from_bowl':
      return o!.support === 'table';
    case 'lamp_on':
      return lampOn(s);
    case 'lamp_off':
      return !lampOn(s);
  }
}
