// Parsing and validating a safetensors header, by the Rust crate's rules (safetensors
// `SafeTensors::read_metadata` and `Metadata::validate`, with serde/serde_json's JSON rules);
// docs/safetensors.md lists each rule and the upstream rule it mirrors.
//
// Layout: 8-byte little-endian u64 N, N bytes of UTF-8 JSON, then the data section.
// The JSON maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative
// to the data section) plus an optional "__metadata__" string->string map (or null).
// The tensors, sorted by offsets, cover the data section from byte 0 without holes or
// overlaps and end exactly where the file ends.
//
// Everything here assumes the header is hostile: each check turns a bad value into a
// SafetensorsError that says which tensor and what is wrong, before any size derived from
// the header is used to allocate or read.

import { SafetensorsError, tensorLabel } from './errors.ts';
import { DTYPE_BITS, FILE_DTYPES, isFileDtype, type FileDtype } from './dtypes.ts';
import { JsonSyntaxError, jsonKind, parseJson, type JsonValue } from './json.ts';

/** Where one tensor lives and what it holds. */
export interface TensorInfo {
  name: string;
  /** Any dtype of the format; SafetensorsDtype ones can be decoded, the others read as bytes. */
  dtype: FileDtype;
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

/** Refuse headers above this by default (upstream's MAX_HEADER_SIZE, 100 MB). */
export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;

/**
 * Compact, length-capped rendering of a value for error messages. Bounded in depth and
 * breadth, so a hostile value (an array nested a million deep) cannot overflow the stack
 * the way JSON.stringify or String() would.
 */
export function show(value: unknown): string {
  const s = render(value, 3);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function render(v: unknown, depth: number): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}...` : v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v === 'boolean' || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return `${Object.prototype.toString.call(v).slice(8, -1)}(${v.byteLength} bytes)`;
  if (Array.isArray(v)) {
    if (depth === 0) return '[...]';
    const items = v.slice(0, 10).map((x) => render(x, depth - 1));
    return `[${items.join(',')}${v.length > 10 ? ',...' : ''}]`;
  }
  if (typeof v === 'object') {
    if (depth === 0) return '{...}';
    const keys = Object.keys(v as object);
    const items = keys.slice(0, 10).map((k) => `${JSON.stringify(k)}:${render((v as Record<string, unknown>)[k], depth - 1)}`);
    return `{${items.join(',')}${keys.length > 10 ? ',...' : ''}}`;
  }
  return typeof v;
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

/** Reads a metadata map from plain JSON (a sharded index's "metadata"); absent means empty. */
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

/** `__metadata__` as upstream reads it: Option<HashMap<String, String>> (null is None; a repeated key keeps its last value). */
function headerMetadata(path: string, value: JsonValue): Record<string, string> {
  if (value.kind === 'null') return {};
  if (value.kind !== 'object') throw new SafetensorsError(path, `__metadata__ must be null or an object of string values, got ${jsonKind(value)}`);
  const entries: [string, string][] = [];
  for (const [k, v] of value.entries) {
    if (v.kind !== 'string') throw new SafetensorsError(path, `__metadata__ must map strings to strings, but key ${JSON.stringify(k)} holds ${jsonKind(v)}`);
    entries.push([k, v.value]);
  }
  return Object.fromEntries(entries);
}

/** One tensor entry as serde reads it, before the layout is checked. */
interface RawEntry { dtype: FileDtype; shape: bigint[]; begin: bigint; end: bigint }

const U64_MAX = (1n << 64n) - 1n;

/**
 * A tensor entry by serde's derive rules for `TensorInfo { dtype, shape, data_offsets }`: an
 * object (unknown fields ignored, a repeated or missing field an error) or an array of the
 * three in that order; dtype a variant name ("F32") or a one-entry map to null ({"F32": null});
 * shape and data_offsets usize values: integer literals, so 2.0, 2e0 and -0 are refused.
 */
function tensorEntry(path: string, name: string, value: JsonValue): RawEntry {
  const fail = (problem: string): never => { throw new SafetensorsError(path, `${tensorLabel(name)}: ${problem}`); };
  const fields = new Map<string, JsonValue>();
  if (value.kind === 'object') {
    for (const [k, v] of value.entries) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') continue;
      if (fields.has(k)) fail(`field "${k}" appears twice (upstream: duplicate field)`);
      fields.set(k, v);
    }
    for (const k of ['dtype', 'shape', 'data_offsets']) if (!fields.has(k)) fail(`missing field "${k}"`);
  } else if (value.kind === 'array') {
    if (value.items.length !== 3) fail(`an entry written as an array needs exactly [dtype, shape, data_offsets], got ${value.items.length} items`);
    ['dtype', 'shape', 'data_offsets'].forEach((k, i) => fields.set(k, value.items[i]!));
  } else fail(`entry must be an object with dtype, shape and data_offsets, got ${jsonKind(value)}`);

  const d = fields.get('dtype')!;
  let dtypeName: string | undefined;
  if (d.kind === 'string') dtypeName = d.value;
  else if (d.kind === 'object' && d.entries.length === 1 && d.entries[0]![1].kind === 'null') dtypeName = d.entries[0]![0];
  else fail(`dtype must be a string, got ${jsonKind(d)}`);
  if (!isFileDtype(dtypeName)) return fail(`unknown dtype ${JSON.stringify(dtypeName)} (known: ${FILE_DTYPES.join(', ')})`);

  const usizes = (field: string, v: JsonValue, length?: number): bigint[] => {
    if (v.kind !== 'array') return fail(`${field} must be an array of non-negative integers, got ${jsonKind(v)}`);
    if (length !== undefined && v.items.length !== length) return fail(`${field} must be [begin, end], got ${v.items.length} values`);
    return v.items.map((x, k) => {
      if (x.kind === 'number' && x.u64 !== undefined) return x.u64;
      const why = x.kind !== 'number' ? '' : x.text.startsWith('-') ? ' (negative)' : /[.eE]/.test(x.text) ? ' (a float: integers are written without a point or exponent)' : ' (above 2^64 - 1)';
      return fail(`${field}[${k}] is ${jsonKind(x)}, not a non-negative integer${why}`);
    });
  };
  const shape = usizes('shape', fields.get('shape')!);
  const [begin, end] = usizes('data_offsets', fields.get('data_offsets')!, 2) as [bigint, bigint];
  return { dtype: dtypeName, shape, begin, end };
}

const fmtShape = (shape: readonly bigint[]): string => `[${shape.length > 8 ? `${shape.slice(0, 8).join(', ')}, ...` : shape.join(', ')}]`;

/**
 * Metadata::validate plus read_metadata's final check: sorted by data_offsets, each tensor
 * starts where the previous one ended (the first at 0), its byte count is what its dtype and
 * shape need (computed without overflowing 64 bits), and the last one ends at the end of the file.
 */
function checkLayout(path: string, entries: Map<string, RawEntry>, duplicated: Set<string>, dataStart: number, dataSize: number): Map<string, TensorInfo> {
  const sorted = [...entries].sort(([, a], [, b]) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));
  const dup = (name: string): string => (duplicated.has(name)
    ? ` (${tensorLabel(name)} appears more than once in the header; as upstream, its last entry counts)` : '');
  let start = 0n, previous = '';
  for (const [name, e] of sorted) {
    const fail = (problem: string, rule: string): never => {
      throw new SafetensorsError(path, `${tensorLabel(name)}: ${problem} (upstream: ${rule})${dup(name)}`);
    };
    const offsets = `data_offsets [${e.begin}, ${e.end}]`;
    if (e.end < e.begin) fail(`${offsets} end before they begin`, 'InvalidOffset');
    if (e.begin > start) fail(`${offsets} leave bytes ${start}..${e.begin} of the data section uncovered: tensors must cover it from byte 0 without holes`, 'InvalidOffset');
    if (e.begin < start) fail(`${offsets} start inside bytes already used${previous ? ` by ${tensorLabel(previous)}` : ''} (up to ${start}): tensors may not overlap`, 'InvalidOffset');
    start = e.end;
    previous = name;
    let count = 1n;
    for (const dim of e.shape) {
      count *= dim;
      if (count > U64_MAX) fail(`shape ${fmtShape(e.shape)} has more elements than a 64-bit size holds`, 'ValidationOverflow');
    }
    const bits = count * BigInt(DTYPE_BITS[e.dtype]);
    if (bits > U64_MAX) fail(`shape ${fmtShape(e.shape)} of ${e.dtype} has more bits than a 64-bit size holds`, 'ValidationOverflow');
    if (bits % 8n !== 0n) fail(`shape ${fmtShape(e.shape)} of ${e.dtype} is ${bits} bits, not a whole number of bytes`, 'MisalignedSlice');
    if (e.end - e.begin !== bits / 8n) fail(`${offsets} hold ${e.end - e.begin} bytes but shape ${fmtShape(e.shape)} of ${e.dtype} needs ${bits / 8n}`, 'TensorInvalidInfo');
  }
  if (start !== BigInt(dataSize)) {
    const problem = start < BigInt(dataSize)
      ? `the tensors end at byte ${start} of the data section, which holds ${dataSize}: ${BigInt(dataSize) - start} bytes after the last tensor belong to none`
      : `${previous ? `${tensorLabel(previous)} ends` : 'the tensors end'} at byte ${start} of the data section, which holds only ${dataSize} bytes (truncated data?)`;
    throw new SafetensorsError(path, `${problem} (upstream: MetadataIncompleteBuffer)${previous ? dup(previous) : ''}`);
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [name, e] of entries) {
    // Every offset and size is now at most the file's size, so exact as a number. Only a tensor
    // with no elements can have a dimension beyond 2^53 (a 0 elsewhere in its shape); upstream
    // accepts it, and so does this reader, with that dimension rounded to the nearest double.
    tensors.set(name, {
      name, dtype: e.dtype, shape: e.shape.map(Number), byteOffset: dataStart + Number(e.begin), byteLength: Number(e.end - e.begin), path,
    });
  }
  return tensors;
}

/** Parses and validates the N header bytes of a file of `fileSize` bytes. */
export function parseHeader(path: string, headerBytes: Uint8Array, fileSize: number): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(path, 'header is not valid UTF-8');
  }
  let json: JsonValue;
  try {
    json = parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new SafetensorsError(path, `header is not valid JSON: ${err.message}`);
    throw err;
  }
  if (json.kind !== 'object') throw new SafetensorsError(path, `header must be a JSON object, got ${jsonKind(json)}`);

  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> | undefined;
  const entries = new Map<string, RawEntry>();
  const duplicated = new Set<string>();
  for (const [name, value] of json.entries) {
    if (name === '__metadata__') {
      if (metadata !== undefined) throw new SafetensorsError(path, '"__metadata__" appears twice in the header (upstream: duplicate field)');
      metadata = headerMetadata(path, value);
      continue;
    }
    // serde reads every entry, then its HashMap keeps the last one of a repeated name.
    const entry = tensorEntry(path, name, value);
    if (entries.delete(name)) duplicated.add(name);
    entries.set(name, entry);
  }
  return { tensors: checkLayout(path, entries, duplicated, dataStart, dataSize), metadata: metadata ?? {}, dataStart };
}
