// half.ts against an independent reference: the nearest float16/bfloat16 found by search
// over the sorted table of every finite value, ties to the even bit pattern.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bf16BitsToF32, decodeBf16, decodeF16, encodeBf16, encodeF16, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits,
} from '../src/half.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const fromBits = (b: number) => ((u32[0] = b), f32[0]);

/** Exact value of a float16 pattern, computed with plain arithmetic (not the codec). */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Reference rounding: nearest representable value among the positive finite patterns
 * (sorted by value), ties to the even pattern; beyond max+half-ulp it is inf. */
function referenceRound(x: number, positives: { v: number; bits: number }[], infBits: number, halfUlpAboveMax: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= halfUlpAboveMax) return sign | infBits;
  let lo = 0;
  let hi = positives.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (positives[mid].v <= a) lo = mid;
    else hi = mid;
  }
  const [p, q] = [positives[lo], positives[hi]];
  if (a <= p.v) return sign | p.bits;
  const dp = a - p.v;
  const dq = q.v - a;
  if (dp < dq) return sign | p.bits;
  if (dq < dp) return sign | q.bits;
  return sign | ((p.bits & 1) === 0 ? p.bits : q.bits);
}

const f16Positives = Array.from({ length: 0x7c00 }, (_, h) => ({ v: f16Value(h), bits: h }));
const f16Limit = 65504 + 16; // max + half an ulp (ulp at the top is 32): ties go to inf (odd max)
const bf16Positives = Array.from({ length: 0x7f80 }, (_, h) => ({ v: fromBits(h << 16), bits: h }));
const bf16Limit = fromBits(0x7f7f0000) + 2 ** (127 - 8); // max + half an ulp

const anyF32 = fc.integer({ min: 0, max: 0xffffffff }).map(fromBits);

test('f16 decode matches the arithmetic definition for all 65536 patterns', () => {
  for (let h = 0; h < 65536; h++) {
    const got = f16BitsToF32(h);
    const want = f16Value(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `pattern ${h.toString(16)}`);
    else assert.ok(Object.is(got, want), `pattern ${h.toString(16)}: ${got} vs ${want}`);
  }
});

test('f16 encode(decode(h)) == h for every non-NaN pattern; NaNs stay NaN', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const decoded = decodeF16(all);
  const again = encodeF16(decoded);
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(decoded[h])) assert.ok((again[h] & 0x7c00) === 0x7c00 && (again[h] & 0x3ff) !== 0);
    else assert.equal(again[h], h);
  }
});

test('f16 encode rounds to nearest even like the reference (random float32 bit patterns)', () => {
  fc.assert(
    fc.property(anyF32, (x) => {
      const got = f32ToF16Bits(x);
      if (Number.isNaN(x)) return (got & 0x7c00) === 0x7c00 && (got & 0x3ff) !== 0;
      return got === referenceRound(x, f16Positives, 0x7c00, f16Limit);
    }),
    { numRuns: 20000 },
  );
});

test('f16 encode near the interesting boundaries', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [65504, 0x7bff], [65519.99, 0x7bff], [65520, 0x7c00],
    [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [3 * 2 ** -25, 0x0002],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [Infinity, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -14 - 2 ** -25, 0x0400], // rounds up out of the subnormals into the smallest normal
  ];
  for (const [x, want] of cases) assert.equal(f32ToF16Bits(x).toString(16), want.toString(16), `f16(${x})`);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  // A NaN whose payload lives only in the low bits must not become inf.
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(fromBits(0x7f800001)))));
});

test('bf16 encode rounds to nearest even like the reference (random float32 bit patterns)', () => {
  fc.assert(
    fc.property(anyF32, (x) => {
      const got = f32ToBf16Bits(x);
      if (Number.isNaN(x)) return Number.isNaN(bf16BitsToF32(got));
      return got === referenceRound(x, bf16Positives, 0x7f80, bf16Limit);
    }),
    { numRuns: 20000 },
  );
});

test('bf16 decode is exact and encode(decode(h)) == h for every non-NaN pattern', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const decoded = decodeBf16(all);
  const decodedBits = new Uint32Array(decoded.buffer); // raw bits: NaN payloads survive here
  const again = encodeBf16(decoded);
  for (let h = 0; h < 65536; h++) {
    assert.equal(decodedBits[h], h << 16 >>> 0);
    if (Number.isNaN(decoded[h])) assert.ok(Number.isNaN(bf16BitsToF32(again[h])));
    else assert.equal(again[h], h);
  }
  assert.ok(Object.is(bf16BitsToF32(0x8000), -0));
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie, rounds to even (1)
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie, rounds up to even
  assert.equal(f32ToBf16Bits(fromBits(0x7f7fffff)), 0x7f80); // largest float32 overflows to inf
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(fromBits(0x7f800001)))));
});

test('array codecs agree with the scalar ones, including subarray views', () => {
  fc.assert(
    fc.property(fc.float32Array({ maxLength: 64 }), fc.nat(3), (arr, skip) => {
      const view = arr.subarray(Math.min(skip, arr.length));
      const h = encodeF16(view);
      const b = encodeBf16(view);
      return view.every((x, i) => h[i] === f32ToF16Bits(x) && b[i] === f32ToBf16Bits(x));
    }),
  );
});
