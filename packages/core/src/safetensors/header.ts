// Parsing and validating a safetensors header.
//
// Layout: 8-byte little-endian u64 N, N bytes of UTF-8 JSON, then the data section.
// The JSON maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative
// to the data section) plus an optional "__metadata__" string->string map.
//
// Everything here assumes the header is hostile: each check turns a bad value into a
// SafetensorsError that says which tensor and what is wrong, before any size derived from
// the header is used to allocate or read.

import { SafetensorsError, tensorLabel } from './errors.ts';
import { DTYPES, dtypeSize, elementCount, isDtype, type SafetensorsDtype } from './dtypes.ts';

/** Where one tensor lives and what it holds. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute position of the first byte in the file holding the tensor. */
  byteOffset: number;
  byteLength: number;
  /** The file holding the tensor (a shard, for sharded checkpoints). */
  path: string;
}

export interface ParsedHeader {
  /** Tensors in header order. */
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** Absolute file position of the data section. */
  dataStart: number;
}

/** Refuse headers above this by default: real ones are a few MB even for huge models. */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/** Compact, length-capped JSON rendering of a header value for error messages. */
export function show(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Validates the 8-byte length prefix against the file size and the cap and returns N.
 * The prefix is a u64; anything at or beyond 2^53 is rejected before it becomes a number.
 */
export function parseHeaderLength(path: string, prefix: Uint8Array, fileSize: number, maxHeaderBytes: number): number {
  if (fileSize < 8) {
    throw new SafetensorsError(path, `file is ${fileSize} bytes, too short for the 8-byte header length (truncated header?)`);
  }
  const big = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (big > BigInt(maxHeaderBytes)) {
    throw new SafetensorsError(path, `header too large: length prefix says ${big} bytes, limit is ${maxHeaderBytes}`);
  }
  const n = Number(big);
  if (8 + n > fileSize) {
    throw new SafetensorsError(
      path,
      `header length ${n} is larger than the file allows (${fileSize} bytes total, ${fileSize - 8} after the length prefix): truncated header or corrupt length`,
    );
  }
  if (n < 2) throw new SafetensorsError(path, `header length ${n} is too short to hold a JSON object`);
  return n;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Reads `__metadata__` (absent means empty). */
export function parseMetadata(path: string, value: unknown, where = '__metadata__'): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new SafetensorsError(path, `${where} must be an object of string values, got ${show(value)}`);
  }
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new SafetensorsError(path, `${where} must map strings to strings, but key ${JSON.stringify(k)} holds ${show(v)}`);
    }
    entries.push([k, v]);
  }
  // fromEntries defines own properties, so a key like "__proto__" stays plain data.
  return Object.fromEntries(entries);
}

function parseEntry(path: string, name: string, value: unknown, dataStart: number, dataSize: number): TensorInfo {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, `${tensorLabel(name)}: ${problem}`);
  };
  if (!isPlainObject(value)) return fail(`entry must be an object with dtype, shape and data_offsets, got ${show(value)}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') return fail(`dtype must be a string, got ${show(dtype)}`);
  if (!isDtype(dtype)) return fail(`unknown dtype ${JSON.stringify(dtype)} (known: ${DTYPES.join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
    return fail(`shape must be an array of non-negative integers, got ${show(shape)}`);
  }
  const count = elementCount(shape);
  if (count === undefined) return fail(`shape ${show(shape)} has too many elements`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
    return fail(`data_offsets must be [begin, end] with non-negative integers, got ${show(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) return fail(`data_offsets [${begin}, ${end}] have begin > end`);
  if (end > dataSize) {
    return fail(`data_offsets [${begin}, ${end}] end past the data section, which holds ${dataSize} bytes (truncated data?)`);
  }
  const needed = count * dtypeSize(dtype);
  if (end - begin !== needed) {
    return fail(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape ${show(shape)} of ${dtype} needs ${needed}`);
  }
  return { name, dtype, shape: [...shape], byteOffset: dataStart + begin, byteLength: needed, path };
}

/** Two tensors may not share bytes (empty tensors occupy none, so they never clash). */
function checkNoOverlap(path: string, tensors: Iterable<TensorInfo>, dataStart: number): void {
  const spans = [...tensors].filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  // Report data_offsets as written in the header, not absolute file positions.
  const offsets = (t: TensorInfo) => `[${t.byteOffset - dataStart}, ${t.byteOffset - dataStart + t.byteLength}]`;
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1];
    const cur = spans[i];
    if (cur.byteOffset < prev.byteOffset + prev.byteLength) {
      throw new SafetensorsError(
        path,
        `tensors ${JSON.stringify(prev.name)} ${offsets(prev)} and ${JSON.stringify(cur.name)} ${offsets(cur)} overlap`,
      );
    }
  }
}

/** Parses and validates the N header bytes of a file of `fileSize` bytes. */
export function parseHeader(path: string, headerBytes: Uint8Array, fileSize: number): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(path, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError(path, `header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(json)) throw new SafetensorsError(path, `header must be a JSON object, got ${show(json)}`);

  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(path, value);
    else tensors.set(name, parseEntry(path, name, value, dataStart, dataSize));
  }
  checkNoOverlap(path, tensors.values(), dataStart);
  return { tensors, metadata, dataStart };
}
