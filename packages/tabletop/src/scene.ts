// Sampling an initial scene: which objects, where, and the state of the drawer and lamp.
import { colorsFor, dimsOf, SIZES, type Color, type ObjectSplit, type Shape, type Size } from './catalog.ts';
import { ENVS, type EnvName } from './envs.ts';
import type { Rng } from './rng.ts';
import {
  DRAWER, DRAWER_MAX_OPEN, HOME, OBJECT_REGION, dims, drawerOpenArea, fixtureFootprints, layoutOf,
  type Fixtures, type GripperState, type ObjectState, type WorldState,
} from './world.ts';

export interface SceneOptions {
  env: EnvName;
  /** Extra objects beyond the four the tasks need (two blocks, a bowl, a ball or cup). 0..6. */
  distractors?: number;
  /** How many of the distractors share colour or shape with another object (at most `distractors`). */
  confusers?: number;
  /** Which colour/shape pairs to draw from (see catalog.ts). */
  objects?: ObjectSplit;
  /** Probability of each pre-arrangement (a stack, an object in a bowl, one in the open drawer). */
  arrangeProb?: number;
  /** The cabinet and lamp elsewhere than the env puts them (see randomFixtures). */
  fixtures?: Fixtures;
}

export const MAX_DISTRACTORS = 6;

export function checkSceneOptions(o: SceneOptions): void {
  const d = o.distractors ?? 2;
  if (!Number.isInteger(d) || d < 0 || d > MAX_DISTRACTORS) {
    throw new Error(`distractors must be an integer in 0..${MAX_DISTRACTORS}, got ${d}`);
  }
  const c = o.confusers ?? 0;
  if (!Number.isInteger(c) || c < 0 || c > d) throw new Error(`confusers must be an integer in 0..distractors (${d}), got ${c}`);
  if (!(o.env in ENVS)) throw new Error(`unknown environment "${String(o.env)}"`);
}

type Kind = { shape: Shape; color: Color; size: Size };
const key = (k: Kind): string => `${k.size}/${k.color}/${k.shape}`;

export function sampleScene(rng: Rng, opts: SceneOptions): WorldState {
  checkSceneOptions(opts);
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = trySample(rng, opts);
    if (s) return s;
  }
  throw new Error('could not place the objects of a scene after 50 attempts; use fewer distractors');
}

function trySample(rng: Rng, opts: SceneOptions): WorldState | null {
  const split = opts.objects ?? 'seen';
  const distractors = opts.distractors ?? 2;
  const confusers = opts.confusers ?? 0;
  const used = new Set<string>();
  const draw = (shape: Shape, color?: Color): Kind | null => {
    const colors = colorsFor(shape, split);
    for (let t = 0; t < 40; t++) {
      const k: Kind = { shape, color: color && colors.includes(color) ? color : rng.pick(colors), size: rng.pick(SIZES) };
      if (!used.has(key(k))) {
        used.add(key(k));
        return k;
      }
      if (color) color = undefined; // that exact object exists already: drop the colour constraint
    }
    return null;
  };
  const kinds: Kind[] = [];
  const core: (Shape)[] = ['block', 'block', 'bowl', rng.next() < 0.5 ? 'ball' : 'cup'];
  for (const shape of core) {
    const k = draw(shape);
    if (!k) return null;
    kinds.push(k);
  }
  const graspShapes: Shape[] = ['block', 'ball', 'cup'];
  for (let i = 0; i < distractors; i++) {
    let k: Kind | null;
    if (i < confusers) {
      // A confuser repeats the colour or the shape of an object already there.
      const ref = rng.pick(kinds.filter((x) => x.shape !== 'bowl'));
      k = rng.next() < 0.5 ? draw(ref.shape) : draw(rng.pick(graspShapes.filter((s) => s !== ref.shape)), ref.color);
    } else {
      const bowls = kinds.filter((x) => x.shape === 'bowl').length;
      k = draw(bowls < 2 && rng.next() < 0.2 ? 'bowl' : rng.pick(graspShapes));
    }
    if (!k) return null;
    kinds.push(k);
  }
  // Bowls first: they are the largest and the hardest to place.
  const order = kinds.map((_, i) => i).sort((a, b) => Number(kinds[b]!.shape === 'bowl') - Number(kinds[a]!.shape === 'bowl'));
  const layout = layoutOf({ env: opts.env, ...(opts.fixtures ? { fixtures: opts.fixtures } : {}) });
  const fixtures = fixtureFootprints(layout);
  const objects: ObjectState[] = new Array<ObjectState>(kinds.length);
  const placed: ObjectState[] = [];
  for (const i of order) {
    const k = kinds[i]!;
    const r = dimsOf(k.shape, k.size).r;
    let ok = false;
    for (let t = 0; t < 200 && !ok; t++) {
      const x = rng.uniform(OBJECT_REGION.x0 + r, OBJECT_REGION.x1 - r);
      const y = rng.uniform(OBJECT_REGION.y0 + r, OBJECT_REGION.y1 - r);
      if (fixtures.some((f) => x > f.x0 - r - 0.01 && x < f.x1 + r + 0.01 && y > f.y0 - r - 0.01 && y < f.y1 + r + 0.01)) continue;
      if (placed.some((p) => Math.hypot(p.pos[0] - x, p.pos[1] - y) < dims(p).r + r + 0.03)) continue;
      const o: ObjectState = { id: i, ...k, pos: [x, y, 0], yaw: k.shape === 'block' ? rng.uniform(-Math.PI / 2, Math.PI / 2) : 0, support: 'table' };
      objects[i] = o;
      placed.push(o);
      ok = true;
    }
    if (!ok) return null;
  }
  const state: WorldState = {
    env: opts.env,
    step: 0,
    objects,
    gripper: homeGripper(rng),
    drawer: rng.next() < 0.5 ? DRAWER_MAX_OPEN : 0,
    switchPos: rng.next() < 0.5 ? 1 : 0,
    ...(opts.fixtures ? { fixtures: opts.fixtures } : {}),
  };
  arrange(state, rng, opts.arrangeProb ?? 0.3);
  return state;
}

/**
 * Fixture positions drawn around the four envs' layouts (they all lie inside): the cabinet
 * anywhere along the back (x in [-0.26, 0.26], y 0.2), the lamp on the other side of the table
 * (|x| in [0.26, 0.34], y in [0.04, 0.21]). Training on scenes like these, a policy cannot know
 * where the drawer and the lamp are from the env's look alone: it has to find them.
 */
export function randomFixtures(rng: Rng): Fixtures {
  const cx = rng.uniform(-0.26, 0.26);
  const side = cx >= 0 ? -1 : 1;
  return { cabinet: [cx, 0.2], lamp: [side * rng.uniform(0.26, 0.34), rng.uniform(0.04, 0.21)] };
}

/** The gripper where every scene starts: open, empty, unrotated, near HOME. */
function homeGripper(rng: Rng): GripperState {
  return { pos: [HOME[0] + rng.uniform(-0.05, 0.05), HOME[1] + rng.uniform(-0.03, 0.03), HOME[2] + rng.uniform(-0.02, 0.02)], yaw: 0, opening: 1, command: 1, holding: null };
}

/**
 * Puts the gripper back near HOME, open, letting go of a drawer handle or the switch knob (whose
 * joints stay where they are): what an evaluation episode that began with expert tasks starts
 * from, as a fresh scene does. A held object would have to be put down first: then it stays.
 */
export function returnGripperHome(state: WorldState, rng: Rng): void {
  if (state.gripper.holding?.kind === 'object') return;
  state.gripper = homeGripper(rng);
}

/** Optional pre-arrangements so that stacks, bowls and the drawer start out used sometimes. */
function arrange(state: WorldState, rng: Rng, p: number): void {
  const free = (): ObjectState[] => state.objects.filter((o) => o.support === 'table' && o.shape !== 'bowl' && !state.objects.some((q) => q.support === o.id));
  const blocks = free().filter((o) => o.shape === 'block');
  if (blocks.length >= 2 && rng.next() < p) {
    const [top, base] = rng.shuffle(blocks).slice(0, 2) as [ObjectState, ObjectState];
    top.pos = [base.pos[0], base.pos[1], dims(base).h];
    top.yaw = base.yaw + rng.uniform(-0.2, 0.2);
    top.support = base.id;
  }
  const bowls = state.objects.filter((o) => o.shape === 'bowl' && !state.objects.some((q) => q.support === o.id));
  const loose = free();
  if (bowls.length > 0 && loose.length > 0 && rng.next() < p) {
    const bowl = rng.pick(bowls);
    const o = rng.pick(loose);
    o.pos = [bowl.pos[0], bowl.pos[1], 0.006];
    o.support = bowl.id;
  }
  const small = free().filter((o) => dims(o).h + DRAWER.floor < DRAWER.top);
  if (state.drawer > 0 && small.length > 0 && rng.next() < p) {
    const o = rng.pick(small);
    const a = drawerOpenArea(layoutOf(state), state.drawer);
    o.pos = [(a.x0 + a.x1) / 2 + rng.uniform(-0.03, 0.03), (a.y0 + a.y1) / 2, DRAWER.floor];
    o.support = 'drawer';
  }
}
