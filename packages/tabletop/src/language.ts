// Instructions from templates with synonyms. The training set of templates and words is
// used to write datasets; a disjoint held-out set of paraphrases is used only at
// evaluation, to test that a policy understands instructions rather than memorizing them.
import type { Shape } from './catalog.ts';
import type { Rng } from './rng.ts';
import type { TaskKind, TaskSpec } from './tasks.ts';
import { objectById, type ObjectState, type WorldState } from './world.ts';

export type Paraphrases = 'train' | 'heldout';

const TRAIN: Record<TaskKind, string[]> = {
  lift: ['lift the {obj}', 'pick up the {obj}', 'grasp the {obj} and lift it', 'raise the {obj}'],
  place_in_bowl: ['place the {obj} in the {target}', 'put the {obj} into the {target}', 'drop the {obj} in the {target}'],
  stack: ['stack the {obj} on the {target}', 'put the {obj} on top of the {target}', 'place the {obj} onto the {target}'],
  unstack: ['unstack the {obj}', 'take the {obj} off the stack', 'remove the {obj} from the top of the stack'],
  push_left: ['push the {obj} to the left', 'slide the {obj} left', 'shove the {obj} towards the left'],
  push_right: ['push the {obj} to the right', 'slide the {obj} right', 'shove the {obj} towards the right'],
  push_forward: ['push the {obj} forward', 'slide the {obj} away from the camera', 'shove the {obj} to the back of the table'],
  push_back: ['push the {obj} backward', 'slide the {obj} towards the camera', 'shove the {obj} to the front of the table'],
  rotate_left: ['rotate the {obj} to the left', 'turn the {obj} counterclockwise', 'twist the {obj} left'],
  rotate_right: ['rotate the {obj} to the right', 'turn the {obj} clockwise', 'twist the {obj} right'],
  open_drawer: ['open the drawer', 'pull the drawer open', 'slide the drawer out'],
  close_drawer: ['close the drawer', 'push the drawer shut', 'slide the drawer in'],
  put_in_drawer: ['put the {obj} in the drawer', 'place the {obj} inside the drawer', 'store the {obj} in the drawer'],
  take_from_drawer: ['take the {obj} out of the drawer', 'remove the {obj} from the drawer', 'get the {obj} out of the drawer'],
  take_from_bowl: ['take the {obj} out of the {bowl}', 'remove the {obj} from the {bowl}', 'lift the {obj} out of the {bowl} onto the table'],
  lamp_on: ['turn on the lamp', 'switch the light on', 'turn the lamp on'],
  lamp_off: ['turn off the lamp', 'switch the light off', 'turn the lamp off'],
};

const HELDOUT: Record<TaskKind, string[]> = {
  lift: ['hoist the {obj} into the air', 'take hold of the {obj} and raise it up'],
  place_in_bowl: ['set the {obj} down inside the {target}', 'the {obj} goes in the {target}'],
  stack: ['pile the {obj} on the {target}', 'set the {obj} down on the {target}'],
  unstack: ['lift the {obj} off the block below it', 'dismantle the stack by taking the {obj}'],
  push_left: ['nudge the {obj} leftwards', 'move the {obj} a bit to the left by pushing it'],
  push_right: ['nudge the {obj} rightwards', 'move the {obj} a bit to the right by pushing it'],
  push_forward: ['nudge the {obj} away from you', 'move the {obj} further away by pushing it'],
  push_back: ['nudge the {obj} towards you', 'move the {obj} closer by pushing it'],
  rotate_left: ['spin the {obj} anticlockwise', 'give the {obj} a twist to the left'],
  rotate_right: ['spin the {obj} in the clockwise direction', 'give the {obj} a twist to the right'],
  open_drawer: ['draw the drawer out', 'get the drawer open'],
  close_drawer: ['shut the drawer', 'get the drawer closed'],
  put_in_drawer: ['stow the {obj} in the drawer', 'the {obj} belongs in the drawer'],
  take_from_drawer: ['fetch the {obj} from the drawer', 'bring the {obj} out of the drawer'],
  take_from_bowl: ['empty the {bowl} by taking out the {obj}', 'fetch the {obj} from the {bowl}'],
  lamp_on: ['light up the lamp', 'make the lamp shine'],
  lamp_off: ['make the lamp go dark', 'power the lamp down'],
};

const SHAPE_WORDS: Record<Shape, { train: string[]; heldout: string[] }> = {
  block: { train: ['block', 'cube', 'brick'], heldout: ['box'] },
  ball: { train: ['ball', 'sphere'], heldout: ['orb'] },
  cup: { train: ['cup', 'mug'], heldout: ['beaker'] },
  bowl: { train: ['bowl', 'dish'], heldout: ['basin'] },
};

/** The templates of a set, for inspection and tests. */
export function templates(set: Paraphrases): Readonly<Record<TaskKind, readonly string[]>> {
  return set === 'train' ? TRAIN : HELDOUT;
}

/** A name for object o that no other object in the scene answers to. */
export function describe(s: WorldState, o: ObjectState, rng: Rng, set: Paraphrases = 'train'): string {
  const words = SHAPE_WORDS[o.shape];
  const pool = set === 'train' ? words.train : [...words.train, ...words.heldout];
  const noun = rng.pick(pool);
  const twin = s.objects.some((p) => p.id !== o.id && p.shape === o.shape && p.color === o.color);
  return twin ? `${o.size} ${o.color} ${noun}` : `${o.color} ${noun}`;
}

/** A natural-language instruction for the task in this scene. */
export function instructionFor(s: WorldState, spec: TaskSpec, rng: Rng, set: Paraphrases = 'train'): string {
  const template = rng.pick(templates(set)[spec.kind]);
  let text = template;
  if (spec.object !== undefined) {
    const o = objectById(s, spec.object);
    text = text.replace('{obj}', describe(s, o, rng, set));
    if (text.includes('{bowl}') && typeof o.support === 'number') text = text.replace('{bowl}', describe(s, objectById(s, o.support), rng, set));
  }
  if (spec.target !== undefined) text = text.replace('{target}', describe(s, objectById(s, spec.target), rng, set));
  return text;
}
