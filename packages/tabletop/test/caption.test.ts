// Scene captions: they only use the listed vocabulary, name every object with its size and
// colour, say where things are as the world state has them, and vary with the rng.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COLORS, ENV_NAMES, Rng, SIZES, captionOf, captionVocabulary, sampleScene, type WorldState } from '../src/index.ts';
import { obj, world } from './helpers.ts';

const wordsOf = (text: string): string[] => text.match(/[a-z]+/g) ?? [];

test('the vocabulary is sorted, unique, and holds every colour and size', () => {
  const v = captionVocabulary();
  assert.deepEqual(v, [...new Set(v)].sort());
  for (const w of [...COLORS, ...SIZES, 'block', 'cube', 'brick', 'ball', 'sphere', 'cup', 'mug', 'bowl', 'dish']) assert.ok(v.includes(w), w);
});

test('captions of random scenes use only vocabulary words and name every object by size and colour', () => {
  const vocab = new Set(captionVocabulary());
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.constantFrom(...ENV_NAMES), fc.integer({ min: 0, max: 6 }), (seed, env, distractors) => {
    const rng = new Rng(seed);
    const s = sampleScene(rng, { env, distractors, objects: 'all', arrangeProb: 0.8 });
    // Any gripper pose and drawer opening, not only the sampled ones.
    s.gripper = { pos: [rng.uniform(-0.48, 0.48), rng.uniform(-0.36, 0.34), rng.uniform(0.004, 0.32)], yaw: 0, opening: rng.next(), command: 1, holding: null };
    s.drawer = rng.uniform(0, 0.13);
    const caption = captionOf(s, rng);
    for (const w of wordsOf(caption)) assert.ok(vocab.has(w), `"${w}" of "${caption}" is not in the vocabulary`);
    for (const o of s.objects) assert.ok(caption.includes(`${o.size} ${o.color} `), `"${caption}" names the ${o.size} ${o.color} ${o.shape}`);
  }), { numRuns: 150 });
});

/** The clause about the object whose name starts with `name` (size colour). */
function clause(caption: string, name: string): string {
  const c = caption.split('. ').find((x) => x.startsWith(name));
  assert.ok(c, `no clause starts with "${name}" in "${caption}"`);
  return c.replace(/\.$/, '');
}

test('where things are: table regions, bowl, stack, drawer, gripper; drawer, lamp and gripper states', () => {
  const s: WorldState = world([
    obj(0, 'block', 'red', -0.3, -0.2), // front left
    obj(1, 'bowl', 'blue', 0.3, 0.08, { size: 'large' }), // back right
    obj(2, 'ball', 'green', 0.3, 0.08, { support: 1, pos: [0.3, 0.08, 0.006] }), // in the bowl
    obj(3, 'block', 'yellow', 0, 0.05), // back middle
    obj(4, 'cup', 'white', 0, 0.05, { support: 3, pos: [0, 0.05, 0.034] }), // on the block
    obj(5, 'ball', 'pink', 0.1, 0.1, { support: 'drawer' }),
    obj(6, 'cup', 'brown', 0.2, -0.2, { support: 'gripper', pos: [0.2, -0.2, 0.03] }),
  ], {
    drawer: 0.05, switchPos: 1,
    gripper: { pos: [0.2, -0.2, 0.05], yaw: 0, opening: 0.3, command: -1, holding: { kind: 'object', id: 6, offset: [0, 0, -0.02], yawOffset: 0 } },
  });
  for (let seed = 0; seed < 20; seed++) {
    const c = captionOf(s, new Rng(seed));
    assert.match(clause(c, 'small red'), /^small red (block|cube|brick) (at )?front left$/);
    assert.match(clause(c, 'large blue'), /^large blue (bowl|dish) (at )?back right$/);
    assert.match(clause(c, 'small green'), /^small green (ball|sphere) (in|inside) the blue (bowl|dish)$/);
    assert.match(clause(c, 'small yellow'), /^small yellow (block|cube|brick) (at )?back (middle|centre)$/);
    assert.match(clause(c, 'small white'), /^small white (cup|mug) on (top of )?the yellow (block|cube|brick)$/);
    assert.match(clause(c, 'small pink'), /^small pink (ball|sphere) (in|inside) the drawer$/);
    assert.match(clause(c, 'small brown'), /^small brown (cup|mug) (in the|held by the) gripper$/);
    assert.match(clause(c, 'drawer'), /^drawer (half open|partly open)$/);
    assert.match(c, /(^|\. )(lamp|light) (on|lit)(\.|$)/);
    const g = c.split('. ').find((x) => /^(gripper|hand) /.test(x)) ?? '';
    assert.match(g, /(low|lowered) over front right/);
    assert.match(g, /closed/);
    assert.match(g, /holding the small brown (cup|mug)/);
  }
  // The other states of the drawer, the lamp and the gripper.
  const t = world([obj(0, 'block', 'red', 0.3, -0.2)], { drawer: 0.13, switchPos: 0, gripper: { pos: [-0.3, 0.1, 0.25], yaw: 1, opening: 1, command: 1, holding: null } });
  for (let seed = 0; seed < 10; seed++) {
    const c = captionOf(t, new Rng(seed));
    assert.match(c, /(^|\. )drawer (open|pulled out)(\.|$)/);
    assert.match(c, /(^|\. )(lamp|light) (off|dark)(\.|$)/);
    assert.match(c, /(gripper|hand) .*(high|raised) over back left/);
    assert.match(c, /(gripper|hand) .*open/);
    assert.match(c, /(gripper|hand) .*(holding nothing|empty)/);
  }
  assert.match(captionOf({ ...t, drawer: 0 }, new Rng(0)), /drawer (closed|shut)/);
  // Fingers holding a wide object are closed on it.
  const wide = structuredClone(s);
  wide.gripper.opening = 0.6;
  assert.match(captionOf(wide, new Rng(0)), /(gripper|hand) [^.]*closed/);
});

test('captions are deterministic by rng and vary across draws (clause order and synonyms)', () => {
  const s = sampleScene(new Rng(3), { env: 'B', distractors: 4 });
  assert.equal(captionOf(s, new Rng(9)), captionOf(s, new Rng(9)));
  const many = new Set(Array.from({ length: 20 }, (_, i) => captionOf(s, new Rng(i))));
  assert.equal(many.size, 20);
  const firsts = new Set([...many].map((c) => c.split('. ')[0]));
  assert.ok(firsts.size > 3, 'the clause order varies');
  const sorted = new Set([...many].map((c) => c.split('. ').map((x) => x.replace(/\.$/, '')).sort().join('|')));
  assert.ok(sorted.size > 1, 'the wording varies, not only the order');
});
