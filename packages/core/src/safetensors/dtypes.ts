// The safetensors dtype codes this package reads and writes, and their element sizes.
//
// Values on disk are little-endian. The reader and writer view bytes through typed arrays,
// which use the host's byte order, so they refuse to run on a big-endian host rather than
// silently byte-swap every tensor.

import { endianness } from 'node:os';

export const DTYPE_SIZES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

/** The dtypes this package decodes and writes. */
export type SafetensorsDtype = keyof typeof DTYPE_SIZES;

/**
 * Every dtype a valid file may hold: the Rust crate's `Dtype` enum with `Dtype::bitsize()`.
 * The reader accepts all of them (their bytes are readable); only SafetensorsDtype decodes.
 * Sub-byte dtypes (F4, F6_*) are valid only when a tensor's bits fill whole bytes.
 */
export const DTYPE_BITS = {
  BOOL: 8, F4: 4, F6_E2M3: 6, F6_E3M2: 6, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32,
  C64: 64, F64: 64, I64: 64, U64: 64,
} as const;

export type FileDtype = keyof typeof DTYPE_BITS;

export const FILE_DTYPES = Object.keys(DTYPE_BITS) as FileDtype[];

export function isFileDtype(s: unknown): s is FileDtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_BITS, s);
}

export const DTYPES = Object.keys(DTYPE_SIZES) as SafetensorsDtype[];

export function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZES, s);
}

export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPE_SIZES[dtype];
}

export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F64', 'F32', 'F16', 'BF16'];

export function isFloatDtype(dtype: SafetensorsDtype): boolean {
  return FLOAT_DTYPES.includes(dtype);
}

/**
 * Number of elements of a shape, or undefined when a dimension is not a non-negative safe
 * integer or the product leaves the safe-integer range (a hostile header must not make us
 * compute with inexact sizes).
 */
export function elementCount(shape: readonly unknown[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}

export function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') {
    throw new Error('safetensors I/O needs a little-endian host (typed arrays use host byte order)');
  }
}
