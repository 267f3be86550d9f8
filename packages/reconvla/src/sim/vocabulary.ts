// The tiny model's word vocabulary and state ranges for the tabletop. The vocabulary covers
// every word the simulator can say, training and held-out paraphrases alike: a tokenizer
// knows words, and whether the model understands the unseen phrasing is what evaluation
// measures (a real Qwen2 tokenizer covers them too). Object names are enumerated by asking the
// simulator to describe objects of sampled scenes, so the lists stay the simulator's own.
import { COLORS, describe, Rng, sampleScene, SIZES, templates, WORKSPACE, type Paraphrases } from '@reconvla/tabletop';
import { WordTokenizer } from '../word_tokenizer.ts';

export function tabletopVocabulary(extraTexts: Iterable<string> = []): string[] {
  const texts: string[] = [...extraTexts, ...COLORS, ...SIZES];
  for (const set of ['train', 'heldout'] as Paraphrases[]) {
    for (const list of Object.values(templates(set))) for (const t of list) texts.push(t.replace(/\{[a-z]+\}/g, ' '));
  }
  const rng = new Rng(12345);
  for (let i = 0; i < 40; i++) {
    const s = sampleScene(rng, { env: 'A', distractors: 6, objects: 'all' });
    for (const o of s.objects) for (let k = 0; k < 8; k++) texts.push(describe(s, o, rng, 'heldout'));
  }
  return WordTokenizer.vocabularyOf(texts);
}

/** Ranges of the proprio fields [x, y, z, roll, pitch, yaw, opening, grasping]. */
export function tabletopStateRange(): { min: number[]; max: number[] } {
  return {
    min: [WORKSPACE.x0, WORKSPACE.y0, 0, -Math.PI, -Math.PI, -Math.PI, 0, 0],
    max: [WORKSPACE.x1, WORKSPACE.y1, WORKSPACE.z1, Math.PI, Math.PI, Math.PI, 1, 1],
  };
}
