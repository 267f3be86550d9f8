// A word-level tokenizer for the tiny model. Upstream feeds the instruction through Qwen2's BPE
// (151k ids); a 64-wide model cannot afford a 151k-row embedding, and the tabletop's
// instructions use a few hundred words. So the tiny config carries its own vocabulary: five
// special ids, then one id per word, all below the action-token range at the top.
import { FIRST_WORD_ID } from './config.ts';

export const WORD_SPECIALS = { pad: 0, end: 1, unk: 2, assistant: 3, colon: 4 } as const;

/** Lower-case words and numbers; punctuation is dropped (instructions carry no meaning in it). */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(/[a-z]+|[0-9]+/g) ?? [];
}

export class WordTokenizer {
  private readonly ids = new Map<string, number>();

  constructor(readonly words: readonly string[]) {
    words.forEach((w, i) => {
      if (this.ids.has(w)) throw new Error(`WordTokenizer: "${w}" appears twice in the vocabulary`);
      this.ids.set(w, FIRST_WORD_ID + i);
    });
  }

  /** A sorted vocabulary of every word in the texts. */
  static vocabularyOf(texts: Iterable<string>): string[] {
    const set = new Set<string>();
    for (const t of texts) for (const w of splitWords(t)) set.add(w);
    return [...set].sort();
  }

  get size(): number { return FIRST_WORD_ID + this.words.length; }

  encode(text: string): number[] {
    return splitWords(text).map((w) => this.ids.get(w) ?? WORD_SPECIALS.unk);
  }

  decode(ids: readonly number[]): string {
    return ids.map((id) => {
      if (id >= FIRST_WORD_ID && id < this.size) return this.words[id - FIRST_WORD_ID]!;
      const special = Object.entries(WORD_SPECIALS).find(([, v]) => v === id);
      return special ? `<${special[0]}>` : `<${id}>`;
    }).join(' ');
  }
}
