// The action tokenizer (upstream's binning) and the tiny word tokenizer: round trips and ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ActionTokenizer, chooseActionId, splitWords, WordTokenizer, WORD_SPECIALS, FIRST_WORD_ID } from '../src/index.ts';

const tok = new ActionTokenizer({ nBins: 256, minAction: -1, maxAction: 1, vocabSize: 512 });
const binWidth = 2 / 255;

test('action tokens: ends of the range and clipping', () => {
  assert.deepEqual(tok.tokenRange, [256, 511]);
  assert.equal(tok.encodeValue(1), 256);
  assert.equal(tok.encodeValue(-1), 511);
  assert.equal(tok.encodeValue(1.37), 256);
  assert.equal(tok.encodeValue(-1.6), 511);
  // Ids below the action range decode to the last centre (as upstream's clip does).
  assert.ok(Math.abs(tok.decodeId(5) - 0.99608) < 1e-5);
});

test('action tokens: decode(encode(a)) is within one bin of a, ids stay in range, order is reversed', () => {
  fc.assert(fc.property(fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: -1, max: 1, noNaN: true }), (a, b) => {
    const ia = tok.encodeValue(a), ib = tok.encodeValue(b);
    assert.ok(ia >= 256 && ia <= 511);
    assert.ok(Math.abs(tok.decodeId(ia) - a) <= binWidth + 1e-9, `${a} -> ${ia} -> ${tok.decodeId(ia)}`);
    if (a < b) assert.ok(ia >= ib, 'larger values get smaller ids');
  }));
});

test('action tokens: encode(decode(id)) is id for every id whose centre lies inside its bin', () => {
  for (let id = 257; id <= 511; id++) assert.equal(tok.encodeValue(tok.decodeId(id)), id);
});

test('word tokenizer: round trip, unknown words, ids below the specials never used for words', () => {
  const words = WordTokenizer.vocabularyOf(['Lift the red block.', 'open the drawer']);
  assert.deepEqual(words, ['block', 'drawer', 'lift', 'open', 'red', 'the']);
  const w = new WordTokenizer(words);
  fc.assert(fc.property(fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 12 }), (ws) => {
    const text = ws.join(' ');
    const ids = w.encode(text);
    assert.ok(ids.every((id) => id >= FIRST_WORD_ID && id < w.size));
    assert.equal(w.decode(ids), splitWords(text).join(' '));
  }));
  assert.deepEqual(w.encode('lift the purple block'), [FIRST_WORD_ID + 2, FIRST_WORD_ID + 5, WORD_SPECIALS.unk, FIRST_WORD_ID]);
});

test('action decoding: argmax takes the peak, median the middle of the mass, mean its expectation', () => {
  const tok = new ActionTokenizer({ nBins: 64, minAction: -1, maxAction: 1, vocabSize: 100 });
  const [lo, hi] = tok.tokenRange;
  const row = new Float32Array(100).fill(-1e9);
  // 40% on the +1 bin, 60% spread evenly over the six bins around +0.5: argmax says +1, the
  // median and the mean land near +0.5 / +0.7.
  const top = tok.encodeValue(1), near = [0.42, 0.45, 0.48, 0.51, 0.54, 0.57].map((v) => tok.encodeValue(v));
  row[top] = Math.log(0.4);
  for (const id of near) row[id] = Math.log(0.1);
  assert.equal(chooseActionId(row, lo, hi, 'argmax', tok), top);
  const median = tok.decodeId(chooseActionId(row, lo, hi, 'median', tok));
  assert.ok(median > 0.4 && median < 0.6, `median ${median}`);
  const mean = tok.decodeId(chooseActionId(row, lo, hi, 'mean', tok));
  assert.ok(Math.abs(mean - (0.4 * tok.decodeId(top) + 0.1 * near.reduce((s, id) => s + tok.decodeId(id), 0))) < 2 / 63, `mean ${mean}`);
  // Ids outside lo..hi never count, whatever their logits.
  row[lo - 1] = 100;
  assert.equal(chooseActionId(row, lo, hi, 'argmax', tok), top);
  fc.assert(fc.property(fc.array(fc.float({ min: -5, max: 5, noNaN: true }), { minLength: 64, maxLength: 64 }), (logits) => {
    const r = new Float32Array(100);
    logits.forEach((v, i) => { r[lo + i] = v; });
    for (const d of ['argmax', 'median', 'mean'] as const) {
      const id = chooseActionId(r, lo, hi, d, tok);
      assert.ok(id >= lo && id <= hi, `${d} id ${id}`);
    }
  }));
});
