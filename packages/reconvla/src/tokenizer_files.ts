// The tokenizer files of an exported model folder, in Hugging Face's layout: what another
// implementation needs to map an instruction's words to our ids. The tiny model's tokenizer is
// word-level (word_tokenizer.ts): lower-case, runs of [a-z] or [0-9], one id per word after five
// specials, unknown words -> <unk>; the action bins are the top ids. tokenizer.json says exactly
// that in the `tokenizers` library's terms (a WordLevel model behind a Lowercase + Replace
// normalizer and WhitespaceSplit + Digits pre-tokenizers); vocab.json is the plain map.
// Checked once with the `tokenizers` library (0.23.2, Tokenizer.from_file): the same ids as
// WordTokenizer.encode on 38 texts (a dataset's instructions, capitals, punctuation, accented
// letters, digits glued to letters, unknown words, the empty string).
import { FIRST_WORD_ID, type ReconVLAConfig } from './config.ts';
import { WORD_SPECIALS } from './word_tokenizer.ts';

/** File name -> JSON text. */
export type TokenizerFiles = Record<string, string>;

/** The names the specials have in the files (WordTokenizer.decode writes them the same way). */
export const SPECIAL_NAMES: Record<number, string> = Object.fromEntries(Object.entries(WORD_SPECIALS).map(([k, id]) => [id, `<${k}>`]));

/** Every embedding row's token: specials, words, unused ids, action bins (`<action_k>`, k = bin counted from the top id). */
export function vocabulary(config: ReconVLAConfig): Map<string, number> {
  const words = config.words;
  if (!words) throw new Error('the config has no word_tokenizer vocabulary (a BPE tokenizer\'s files are not ours to write)');
  const vocab = new Map<string, number>();
  for (const [id, name] of Object.entries(SPECIAL_NAMES)) vocab.set(name, Number(id));
  words.forEach((w, i) => vocab.set(w, FIRST_WORD_ID + i));
  const { vocabSize, nBins } = config.actionTokenizer;
  const firstAction = vocabSize - nBins;
  for (let id = FIRST_WORD_ID + words.length; id < config.llm.vocabSize; id++) {
    vocab.set(id >= firstAction && id < vocabSize ? `<action_${vocabSize - 1 - id}>` : `<unused_${id}>`, id);
  }
  return vocab;
}

const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

export function tokenizerFiles(config: ReconVLAConfig): TokenizerFiles {
  const vocab = Object.fromEntries(vocabulary(config));
  const specials = Object.entries(SPECIAL_NAMES).map(([id, content]) => ({
    id: Number(id), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const tokenizer = {
    version: '1.0', truncation: null, padding: null, added_tokens: specials,
    // splitWords(): lower-case, drop everything but [a-z0-9], split letter runs from digit runs.
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Lowercase' }, { type: 'Replace', pattern: { Regex: '[^a-z0-9]+' }, content: ' ' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Digits', individual_digits: false }] },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: SPECIAL_NAMES[WORD_SPECIALS.unk] },
  };
  const at = config.actionTokenizer;
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    model_max_length: config.llm.maxPositionEmbeddings,
    padding_side: 'right',
    pad_token: SPECIAL_NAMES[WORD_SPECIALS.pad], eos_token: SPECIAL_NAMES[WORD_SPECIALS.end], unk_token: SPECIAL_NAMES[WORD_SPECIALS.unk],
    // What the files above do not say: how the prompt is assembled (config.json "prompt") and
    // which ids are action bins (config.json "action_tokenizer").
    reconvla: {
      word_tokenizer: 'lower-case; words are the runs of [a-z] and of [0-9]; everything else is dropped; unknown words are <unk>',
      first_word_id: FIRST_WORD_ID,
      action_token_range: [at.vocabSize - at.nBins, at.vocabSize - 1],
      assistant_token: SPECIAL_NAMES[WORD_SPECIALS.assistant], colon_token: SPECIAL_NAMES[WORD_SPECIALS.colon],
    },
  };
  const specialMap = {
    pad_token: SPECIAL_NAMES[WORD_SPECIALS.pad], eos_token: SPECIAL_NAMES[WORD_SPECIALS.end], unk_token: SPECIAL_NAMES[WORD_SPECIALS.unk],
    additional_special_tokens: [SPECIAL_NAMES[WORD_SPECIALS.assistant], SPECIAL_NAMES[WORD_SPECIALS.colon]],
  };
  return {
    'vocab.json': json(vocab),
    'tokenizer.json': json(tokenizer),
    'tokenizer_config.json': json(tokenizerConfig),
    'special_tokens_map.json': json(specialMap),
  };
}

/**
 * The word list of a vocab.json (ids FIRST_WORD_ID, FIRST_WORD_ID + 1, ... up to the first
 * non-word), checked: every word id once, no gaps. `file` names the file in errors.
 */
export function wordsFromVocab(vocab: unknown, file: string): string[] {
  if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) throw new Error(`${file}: must be a JSON object of token -> id`);
  const byId = new Map<number, string>();
  for (const [tok, id] of Object.entries(vocab as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new Error(`${file}: token ${JSON.stringify(tok)} has id ${JSON.stringify(id)}, not an integer >= 0`);
    if (byId.has(id)) throw new Error(`${file}: id ${id} is given to both ${JSON.stringify(byId.get(id))} and ${JSON.stringify(tok)}`);
    byId.set(id, tok);
  }
  const words: string[] = [];
  for (let id = FIRST_WORD_ID; byId.has(id) && !/^<.*>$/.test(byId.get(id)!); id++) words.push(byId.get(id)!);
  return words;
}
