// Turning a tensor's raw little-endian bytes into the typed array a caller asks for.
//
// Results may share memory with the bytes passed in (an F32 tensor is just viewed, not
// copied); the reader always passes freshly read bytes, so its results are the caller's own.
// Conversions that could lose integer values (int64 -> int32, int64 -> float64 beyond 2^53)
// fail loudly, naming the tensor and the value, instead of wrapping or rounding silently;
// conversions to float32 round to nearest.

import { decodeBf16, decodeF16 } from '../half.ts';
import { SafetensorsError, tensorLabel } from './errors.ts';
import { assertLittleEndianHost, dtypeSize, isFloatDtype, type SafetensorsDtype } from './dtypes.ts';

/** The typed array that holds a dtype's raw elements (F16/BF16 as their 16-bit patterns). */
export type RawTensorArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** Which tensor is being decoded, for error messages. */
export interface DecodeContext {
  path: string;
  name: string;
}

function fail(ctx: DecodeContext, problem: string): never {
  throw new SafetensorsError(ctx.path, `${tensorLabel(ctx.name)}: ${problem}`);
}

/**
 * Views bytes as the dtype's element array. Shares memory with `bytes` when it is aligned,
 * copies otherwise (typed arrays need offsets that are multiples of the element size).
 */
export function viewRaw(bytes: Uint8Array, dtype: SafetensorsDtype): RawTensorArray {
  assertLittleEndianHost();
  const size = dtypeSize(dtype);
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset } = aligned;
  const n = bytes.byteLength / size;
  switch (dtype) {
    case 'F64': return new Float64Array(buffer, byteOffset, n);
    case 'F32': return new Float32Array(buffer, byteOffset, n);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(buffer, byteOffset, n);
    case 'I64': return new BigInt64Array(buffer, byteOffset, n);
    case 'U64': return new BigUint64Array(buffer, byteOffset, n);
    case 'I32': return new Int32Array(buffer, byteOffset, n);
    case 'U32': return new Uint32Array(buffer, byteOffset, n);
    case 'I16': return new Int16Array(buffer, byteOffset, n);
    case 'I8': return new Int8Array(buffer, byteOffset, n);
    case 'U8': case 'BOOL': return new Uint8Array(buffer, byteOffset, n);
  }
}

/** BOOL bytes other than 0 count as true, like numpy/torch do when they load them. */
function boolsTo<T extends Float32Array | Float64Array | Int32Array>(raw: Uint8Array, out: T): T {
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] === 0 ? 0 : 1;
  return out;
}

/** Decodes to float32, rounding to nearest (F64, and 64-bit ints beyond 2^24, lose precision). */
export function decodeFloat32(bytes: Uint8Array, dtype: SafetensorsDtype): Float32Array {
  const raw = viewRaw(bytes, dtype);
  switch (dtype) {
    case 'F32': return raw as Float32Array;
    case 'F16': return decodeF16(raw as Uint16Array);
    case 'BF16': return decodeBf16(raw as Uint16Array);
    case 'BOOL': return boolsTo(raw as Uint8Array, new Float32Array(raw.length));
    case 'I64': case 'U64': {
      const big = raw as BigInt64Array | BigUint64Array;
      const out = new Float32Array(big.length);
      for (let i = 0; i < big.length; i++) out[i] = Number(big[i]);
      return out;
    }
    default: return new Float32Array(raw as Exclude<RawTensorArray, BigInt64Array | BigUint64Array>);
  }
}

/** Decodes to float64; exact for every dtype, and fails for 64-bit ints beyond +-(2^53 - 1). */
export function decodeFloat64(bytes: Uint8Array, dtype: SafetensorsDtype, ctx: DecodeContext): Float64Array {
  if (dtype === 'F16' || dtype === 'BF16') return new Float64Array(decodeFloat32(bytes, dtype));
  const raw = viewRaw(bytes, dtype);
  switch (dtype) {
    case 'BOOL': return boolsTo(raw as Uint8Array, new Float64Array(raw.length));
    case 'I64': case 'U64': {
      const big = raw as BigInt64Array | BigUint64Array;
      const out = new Float64Array(big.length);
      for (let i = 0; i < big.length; i++) {
        const v = big[i];
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          fail(ctx, `${dtype} value ${v} at index ${i} is not exactly representable as a JS number (use readBigInt64)`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    default: return new Float64Array(raw as Exclude<RawTensorArray, BigInt64Array | BigUint64Array>);
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Decodes an integer or BOOL tensor to int32; values outside int32 are an error. */
export function decodeInt32(bytes: Uint8Array, dtype: SafetensorsDtype, ctx: DecodeContext): Int32Array {
  if (isFloatDtype(dtype)) fail(ctx, `is ${dtype}; readInt32 needs an integer or BOOL dtype (use readFloat32)`);
  const raw = viewRaw(bytes, dtype);
  switch (dtype) {
    case 'I32': return raw as Int32Array;
    case 'BOOL': return boolsTo(raw as Uint8Array, new Int32Array(raw.length));
    case 'I64': case 'U64': {
      const big = raw as BigInt64Array | BigUint64Array;
      const out = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) {
        const v = big[i];
        if (v > BigInt(INT32_MAX) || v < BigInt(INT32_MIN)) {
          fail(ctx, `${dtype} value ${v} at index ${i} does not fit in int32 (use readBigInt64)`);
        }
        out[i] = Number(v);
      }
      return out;
    }
    case 'U32': {
      const u = raw as Uint32Array;
      for (let i = 0; i < u.length; i++) {
        if (u[i] > INT32_MAX) fail(ctx, `U32 value ${u[i]} at index ${i} does not fit in int32`);
      }
      return new Int32Array(u);
    }
    default: return new Int32Array(raw as Int16Array | Int8Array | Uint16Array | Uint8Array);
  }
}

const INT64_MAX = (1n << 63n) - 1n;

/** Decodes an integer or BOOL tensor to exact int64 values. */
export function decodeBigInt64(bytes: Uint8Array, dtype: SafetensorsDtype, ctx: DecodeContext): BigInt64Array {
  if (isFloatDtype(dtype)) fail(ctx, `is ${dtype}; readBigInt64 needs an integer or BOOL dtype`);
  const raw = viewRaw(bytes, dtype);
  if (dtype === 'I64') return raw as BigInt64Array;
  const out = new BigInt64Array(raw.length);
  if (dtype === 'U64') {
    const u = raw as BigUint64Array;
    for (let i = 0; i < u.length; i++) {
      if (u[i] > INT64_MAX) fail(ctx, `U64 value ${u[i]} at index ${i} does not fit in int64`);
      out[i] = u[i];
    }
    return out;
  }
  const small = dtype === 'BOOL' ? boolsTo(raw as Uint8Array, new Int32Array(raw.length)) : raw;
  for (let i = 0; i < small.length; i++) out[i] = BigInt(small[i] as number);
  return out;
}
