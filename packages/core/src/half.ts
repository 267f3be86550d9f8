// Half-precision codecs: IEEE float16 (F16) and bfloat16 (BF16) <-> float32.
//
// Everything works on float32 bit patterns, so results are bit-exact and match what
// PyTorch/NumPy produce: round to nearest with ties to even, overflow to +-inf, NaN stays
// NaN (quiet, sign kept), subnormals handled exactly, -0 kept.
//
// The scalar functions take a JS number and first round it to float32 (`Math.fround`), so
// f32ToF16Bits(x) == bits of float16(float32(x)), the same double rounding a float32
// pipeline does. The array functions are what checkpoint I/O uses.

// One scratch word to move between a float32 and its bits.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

function f32FromBits(bits: number): number {
  scratchU32[0] = bits;
  return scratchF32[0];
}

// ---------------------------------------------------------------------------------------
// float16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.

/** float32 bit pattern -> float16 bit pattern, round to nearest even. */
export function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) {
    // inf stays inf; NaN keeps its top payload bits and is forced quiet so it cannot
    // collapse into inf when the low payload bits are dropped.
    return mant === 0 ? sign | 0x7c00 : sign | 0x7c00 | 0x200 | (mant >>> 13);
  }
  const e16 = exp - 112; // rebias: exp - 127 + 15
  if (e16 >= 0x1f) return sign | 0x7c00; // |x| >= 2^16: overflow
  if (e16 <= 0) {
    // Result is a float16 subnormal (or zero): value / 2^-24 = m24 >> (14 - e16).
    if (e16 < -10) return sign; // below half the smallest subnormal: rounds to 0
    const m24 = mant | 0x800000;
    const shift = 14 - e16; // 14..24
    let h = m24 >>> shift;
    const rem = m24 & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++; // a carry into 0x400 is the smallest normal
    return sign | h;
  }
  let h = (e16 << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may reach 0x7c00 = inf
  return sign | h;
}

/** float16 bit pattern -> float32 bit pattern (exact: every float16 is a float32). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    // Subnormal float16 is a normal float32: shift the mantissa up until the implicit bit shows.
    let e = 113; // float32 exponent of 2^-14, the float16 subnormal scale
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
}

export function f32ToF16Bits(x: number): number {
  return f32BitsToF16Bits(f32Bits(x));
}

export function f16BitsToF32(bits: number): number {
  return f32FromBits(f16BitsToF32Bits(bits & 0xffff));
}

// Decoding is a pure function of 16 bits, so a 256 KiB table built on first use makes
// decoding a large F16 checkpoint a single indexed load per element.
let f16DecodeTable: Uint32Array | undefined;

function getF16DecodeTable(): Uint32Array {
  if (f16DecodeTable === undefined) {
    f16DecodeTable = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16DecodeTable[h] = f16BitsToF32Bits(h);
  }
  return f16DecodeTable;
}

export function decodeF16(u16: Uint16Array): Float32Array {
  const table = getF16DecodeTable();
  const out = new Float32Array(u16.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < u16.length; i++) outBits[i] = table[u16[i]];
  return out;
}

export function encodeF16(f32: Float32Array): Uint16Array {
  const bits = new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
  const out = new Uint16Array(f32.length);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]);
  return out;
}

// ---------------------------------------------------------------------------------------
// bfloat16: the top 16 bits of a float32 (1 sign, 8 exponent, 7 mantissa bits).

/** float32 bit pattern -> bfloat16 bit pattern, round to nearest even. */
export function f32BitsToBf16Bits(b: number): number {
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) {
    // NaN: truncating could clear every payload bit and leave inf, so force the quiet bit.
    return ((b >>> 16) | 0x40) & 0xffff;
  }
  // Adding 0x7fff (+1 when the kept part is odd) rounds to nearest even; a carry out of the
  // mantissa bumps the exponent, which turns the largest finite values into inf as it should.
  // b + 0x8000 < 2^32 for every non-NaN pattern, so the unsigned shift sees the exact sum.
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f32ToBf16Bits(x: number): number {
  return f32BitsToBf16Bits(f32Bits(x));
}

export function bf16BitsToF32(bits: number): number {
  return f32FromBits(((bits & 0xffff) << 16) >>> 0);
}

export function decodeBf16(u16: Uint16Array): Float32Array {
  const out = new Float32Array(u16.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < u16.length; i++) outBits[i] = u16[i] << 16;
  return out;
}

export function encodeBf16(f32: Float32Array): Uint16Array {
  const bits = new Uint32Array(f32.buffer, f32.byteOffset, f32.length);
  const out = new Uint16Array(f32.length);
  for (let i = 0; i < bits.length; i++) out[i] = f32BitsToBf16Bits(bits[i]);
  return out;
}

// ---------------------------------------------------------------------------------------
// bfloat16 -> float16 (checkpoints converted for half-precision storage).

/** bfloat16 bit pattern -> float16 bit pattern: bf16 widens to float32 exactly, then one
 * round to nearest even. |x| >= 65520 becomes inf, below 2^-25 it becomes 0. */
export function bf16BitsToF16Bits(b: number): number {
  return f32BitsToF16Bits(((b & 0xffff) << 16) >>> 0);
}

/** Converts bfloat16 bits to float16 bits; `onOverflow(i)` is called for the first finite
 * value that becomes inf (the caller throws, naming the tensor). */
export function bf16ToF16(u16: Uint16Array, onOverflow?: (index: number) => void): Uint16Array {
  const out = new Uint16Array(u16.length);
  for (let i = 0; i < u16.length; i++) {
    const b = u16[i]!;
    const h = bf16BitsToF16Bits(b);
    if (onOverflow && (h & 0x7fff) === 0x7c00 && (b & 0x7f80) !== 0x7f80) onOverflow(i);
    out[i] = h;
  }
  return out;
}
