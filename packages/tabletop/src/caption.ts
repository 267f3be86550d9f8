// Captions of a scene, written from its world state: every object (size, colour and the
// simulator's own noun for its shape) and where it is, the drawer, the lamp and the gripper.
// They are the text half of image-text pairs (a SigLIP-style objective teaches a vision tower
// to see the scene before it learns to act). The clause order and a few synonyms are drawn
// from the rng, so one scene has many captions; every word comes from the tables below, and
// captionVocabulary() lists them all.
import { COLORS, SHAPES, SIZES, type Shape } from './catalog.ts';
import { describe } from './language.ts';
import { Rng } from './rng.ts';
import {
  DRAWER_CLOSED_AT, DRAWER_OPEN_AT, OBJECT_REGION, lampOn, objectById,
  type ObjectState, type WorldState,
} from './world.ts';

// The static camera looks along +y from the front of the table: -x is left, -y is the front.
// Regions are thirds of the object region across and halves of it in depth.
const LEFT_OF = OBJECT_REGION.x0 + (OBJECT_REGION.x1 - OBJECT_REGION.x0) / 3;
const RIGHT_OF = OBJECT_REGION.x1 - (OBJECT_REGION.x1 - OBJECT_REGION.x0) / 3;
const FRONT_OF = (OBJECT_REGION.y0 + OBJECT_REGION.y1) / 2;
/** Fingertips below this height (metres) are "low": about where they reach the tallest objects. */
const LOW_BELOW = 0.1;
/** Empty fingers at least this open (0..1) are "open". */
const OPEN_FROM = 0.5;

// Every phrase a caption is made of; {slots} are filled with other phrases or object names.
const WORDS = {
  side: { left: ['left'], middle: ['middle', 'centre'], right: ['right'] },
  depth: { front: ['front'], back: ['back'] },
  onTable: ['{at}', 'at {at}'],
  inBowl: ['in the {base}', 'inside the {base}'],
  onObject: ['on the {base}', 'on top of the {base}'],
  inDrawer: ['in the drawer', 'inside the drawer'],
  inGripper: ['in the gripper', 'held by the gripper'],
  onCabinet: ['on the cabinet'],
  onLamp: ['on the lamp'],
  object: ['{obj} {where}'],
  drawer: ['drawer {state}'],
  drawerState: { open: ['open', 'pulled out'], half: ['half open', 'partly open'], closed: ['closed', 'shut'] },
  lamp: ['lamp {state}', 'light {state}'],
  lampState: { on: ['on', 'lit'], off: ['off', 'dark'] },
  gripper: ['gripper {parts}', 'hand {parts}'],
  height: { high: ['high', 'raised'], low: ['low', 'lowered'] },
  over: ['over {at}'],
  fingers: { open: ['open'], closed: ['closed'] },
  holdingObject: ['holding the {obj}'],
  holdingNothing: ['holding nothing', 'empty'],
  holdingHandle: { drawer: ['holding the drawer handle'], switch: ['holding the lamp switch'] },
} as const;

function fill(template: string, slots: Record<string, string>): string {
  return template.replace(/\{([a-z]+)\}/g, (_, k: string) => {
    const v = slots[k];
    if (v === undefined) throw new Error(`caption template "${template}": no value for {${k}}`);
    return v;
  });
}

/** "front left", "back centre", ...: where a point of the table is, seen from the static camera. */
function regionOf(x: number, y: number, rng: Rng): string {
  const depth = y < FRONT_OF ? WORDS.depth.front : WORDS.depth.back;
  const side = x < LEFT_OF ? WORDS.side.left : x > RIGHT_OF ? WORDS.side.right : WORDS.side.middle;
  return `${rng.pick(depth)} ${rng.pick(side)}`;
}

/** The simulator's own noun for the object's shape (describe() draws it among its synonyms). */
function nounOf(state: WorldState, o: ObjectState, rng: Rng): string {
  return describe(state, o, rng).split(' ').at(-1)!;
}

/** The full name: size, colour and noun (captions always give the size, unlike instructions). */
function nameOf(state: WorldState, o: ObjectState, rng: Rng): string {
  return `${o.size} ${o.color} ${nounOf(state, o, rng)}`;
}

function whereIs(state: WorldState, o: ObjectState, rng: Rng): string {
  const s = o.support;
  switch (s) {
    case 'table': return fill(rng.pick(WORDS.onTable), { at: regionOf(o.pos[0], o.pos[1], rng) });
    case 'drawer': return rng.pick(WORDS.inDrawer);
    case 'gripper': return rng.pick(WORDS.inGripper);
    case 'cabinet': return rng.pick(WORDS.onCabinet);
    case 'lamp': return rng.pick(WORDS.onLamp);
  }
  // Resting on another object: in a bowl, or on top of a block (or whatever it is).
  const base = objectById(state, s);
  return fill(rng.pick(base.shape === 'bowl' ? WORDS.inBowl : WORDS.onObject), { base: describe(state, base, rng) });
}

function objectClause(state: WorldState, o: ObjectState, rng: Rng): string {
  return fill(rng.pick(WORDS.object), { obj: nameOf(state, o, rng), where: whereIs(state, o, rng) });
}

function drawerClause(state: WorldState, rng: Rng): string {
  const ds = WORDS.drawerState;
  const words = state.drawer >= DRAWER_OPEN_AT ? ds.open : state.drawer <= DRAWER_CLOSED_AT ? ds.closed : ds.half;
  return fill(rng.pick(WORDS.drawer), { state: rng.pick(words) });
}

function lampClause(state: WorldState, rng: Rng): string {
  return fill(rng.pick(WORDS.lamp), { state: rng.pick(lampOn(state) ? WORDS.lampState.on : WORDS.lampState.off) });
}

function gripperClause(state: WorldState, rng: Rng): string {
  const g = state.gripper;
  const height = rng.pick(g.pos[2] < LOW_BELOW ? WORDS.height.low : WORDS.height.high);
  const where = `${height} ${fill(rng.pick(WORDS.over), { at: regionOf(g.pos[0], g.pos[1], rng) })}`;
  const h = g.holding;
  // Fingers holding something are closed on it, however wide the thing keeps them.
  const fingers = rng.pick(h === null && g.opening >= OPEN_FROM ? WORDS.fingers.open : WORDS.fingers.closed);
  const holding = h === null ? rng.pick(WORDS.holdingNothing)
    : h.kind === 'object' ? fill(rng.pick(WORDS.holdingObject), { obj: nameOf(state, objectById(state, h.id), rng) })
    : rng.pick(WORDS.holdingHandle[h.item]);
  return fill(rng.pick(WORDS.gripper), { parts: rng.shuffle([where, fingers, holding]).join(', ') });
}

/**
 * A caption of the scene: one clause per object, the drawer, the lamp and the gripper, in a
 * random order, e.g. "the small red block is at the front left. lamp off. gripper high over
 * the back centre, open, holding nothing. a large blue dish in the back right. ...".
 */
export function captionOf(state: WorldState, rng: Rng): string {
  const clauses = [
    ...state.objects.map((o) => objectClause(state, o, rng)),
    drawerClause(state, rng), lampClause(state, rng), gripperClause(state, rng),
  ];
  return `${rng.shuffle(clauses).join('. ')}.`;
}

/** Every string in a (nested) phrase table. */
function phrases(table: unknown): string[] {
  if (typeof table === 'string') return [table];
  if (Array.isArray(table)) return table.flatMap(phrases);
  if (table !== null && typeof table === 'object') return Object.values(table).flatMap(phrases);
  return [];
}

/** The nouns describe() gives a shape, asked often enough to see every synonym (it has 2-3). */
function nounsOf(shape: Shape): string[] {
  const o: ObjectState = { id: 0, shape, color: 'red', size: 'small', pos: [0, 0, 0], yaw: 0, support: 'table' };
  const state: WorldState = {
    env: 'A', step: 0, objects: [o], drawer: 0, switchPos: 0,
    gripper: { pos: [0, 0, 0.2], yaw: 0, opening: 1, command: 1, holding: null },
  };
  const rng = new Rng(0);
  return Array.from({ length: 64 }, () => nounOf(state, o, rng));
}

/** Every word captionOf can write, sorted (lower case, punctuation dropped). */
export function captionVocabulary(): string[] {
  const texts = [...phrases(WORDS), ...COLORS, ...SIZES, ...SHAPES.flatMap(nounsOf)];
  const words = new Set(texts.flatMap((t) => t.replace(/\{[a-z]+\}/g, ' ').match(/[a-z]+/g) ?? []));
  return [...words].sort();
}
