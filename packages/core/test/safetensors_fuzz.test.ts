// Fuzzing the reader with mutated copies of valid files: it must either open and read
// consistent data (tensors that cover the data section exactly, as upstream requires) or throw
// a SafetensorsError naming the file; never another exception (no RangeError from deep
// nesting), never hang. Byte-level mutations of one file, and structure-aware mutations of
// random valid files (numbers turned into floats, entries repeated or dropped, dtypes swapped,
// values nested deep, surrogate escapes, data sections resized).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { DTYPE_BITS, FILE_DTYPES, SafetensorsError, SafetensorsFile, encodeSafetensors, type FileDtype } from '../src/safetensors/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-fuzz-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const target = path.join(dir, 'fuzz.safetensors');

const valid = encodeSafetensors({
  w: { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
  h: { dtype: 'F16', shape: [3], data: Uint16Array.of(0x3c00, 0x7c00, 0x8000) },
  b: { dtype: 'BF16', shape: [], data: Uint16Array.of(0x3f80) },
  ids: { dtype: 'I64', shape: [2], data: BigInt64Array.of(-1n, 1n << 40n) },
  k: { dtype: 'I32', shape: [1, 2], data: Int32Array.of(7, -7) },
  m: { dtype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) },
  e: { dtype: 'F64', shape: [0], data: new Float64Array(0) },
}, { format: 'pt' });
const headerLength = Number(new DataView(valid.buffer).getBigUint64(0, true));

/** Opens the mutated bytes and reads everything every way; returns normally or throws. */
function exercise(bytes: Uint8Array): void {
  fs.writeFileSync(target, bytes);
  const f = SafetensorsFile.open(target);
  try {
    // Upstream's layout rule: sorted by offset, the tensors tile the data section exactly.
    const dataStart = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const spans = f.names().map((n) => f.info(n)).sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
    let at = dataStart;
    for (const info of spans) {
      assert.equal(info.byteOffset, at, `${info.name} starts where the previous tensor ends`);
      at += info.byteLength;
    }
    assert.equal(at, bytes.length, 'the last tensor ends at the end of the file');
    for (const name of f.names()) {
      const info = f.info(name);
      const count = info.shape.reduce((a, b) => a * b, 1);
      assert.equal(info.byteLength * 8, count * DTYPE_BITS[info.dtype], 'byteLength matches shape');
      assert.ok(info.byteOffset >= 8 && info.byteOffset + info.byteLength <= bytes.length, 'tensor lies inside the file');
      assert.deepEqual(f.readBytes(name), bytes.subarray(info.byteOffset, info.byteOffset + info.byteLength));
      for (const read of [() => f.readFloat32(name), () => f.readInt32(name), () => f.readBigInt64(name), () => f.readFloat64(name)]) {
        try {
          assert.equal(read().length, count);
        } catch (e) {
          if (!(e instanceof SafetensorsError)) throw e; // e.g. "is F32; readInt32 needs an integer"
        }
      }
    }
  } finally {
    f.close();
  }
}

/** Passes if the reader succeeded or failed with a SafetensorsError naming the file. */
function readerIsWellBehaved(bytes: Uint8Array): boolean {
  try {
    exercise(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError && e.message.startsWith(`${target}: `)) return true;
    throw e;
  }
  return true;
}

const mutate = (f: (b: Uint8Array) => void) => {
  const copy = valid.slice();
  f(copy);
  return copy;
};

test('the unmutated file reads cleanly', () => {
  exercise(valid);
});

test('byte flips anywhere, concentrated on the header', { timeout: 20_000 }, () => {
  const position = fc.oneof(fc.nat(8 + headerLength - 1), fc.nat(valid.length - 1));
  fc.assert(
    fc.property(fc.array(fc.tuple(position, fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (flips) =>
      readerIsWellBehaved(mutate((b) => flips.forEach(([i, x]) => (b[i] ^= x))))),
    { numRuns: 400 },
  );
});

test('digit edits inside the header JSON (reach the offset/shape checks)', { timeout: 20_000 }, () => {
  const text = new TextDecoder().decode(valid.subarray(8, 8 + headerLength));
  const digitPositions = [...text].flatMap((c, i) => (/[0-9]/.test(c) ? [8 + i] : []));
  fc.assert(
    fc.property(fc.constantFrom(...digitPositions), fc.integer({ min: 0x30, max: 0x39 }), (i, digit) =>
      readerIsWellBehaved(mutate((b) => (b[i] = digit)))),
    { numRuns: 400 },
  );
});

test('truncations and extensions', { timeout: 20_000 }, () => {
  fc.assert(
    fc.property(fc.nat(valid.length + 16), (len) => {
      const bytes = new Uint8Array(len);
      bytes.set(valid.subarray(0, Math.min(len, valid.length)));
      return readerIsWellBehaved(bytes);
    }),
    { numRuns: 300 },
  );
});

test('header-length prefix edits', { timeout: 20_000 }, () => {
  const lengthArb = fc.oneof(
    fc.integer({ min: -16, max: 16 }).map((d) => BigInt(Math.max(0, headerLength + d))),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.constantFrom(0n, 1n, 2n, 7n, BigInt(valid.length), BigInt(valid.length - 8)),
  );
  fc.assert(
    fc.property(lengthArb, (n) => readerIsWellBehaved(mutate((b) => new DataView(b.buffer).setBigUint64(0, n, true)))),
    { numRuns: 300 },
  );
});

// --- structure-aware mutations of random valid files ----------------------------------------------

/** A header entry as raw JSON fragments, so that mutations can write what JSON.stringify never would. */
interface Entry { key: string; dtype: string; shape: string[]; offsets: string[]; extra?: string; asArray?: boolean }

/** A random valid file: tensors of any of the format's dtypes, laid out in a random order. */
const validFile = fc.array(fc.tuple(fc.constantFrom(...FILE_DTYPES), fc.array(fc.nat(4), { maxLength: 3 })), { maxLength: 5 }).chain((specs) =>
  fc.shuffledSubarray(specs.map((_, i) => i), { minLength: specs.length, maxLength: specs.length }).map((order) => {
    const entries: Entry[] = [];
    let at = 0;
    for (const i of order) {
      const [dtype, shape0] = specs[i]! as [FileDtype, number[]];
      // Sub-byte dtypes need a whole number of bytes: make the element count a multiple of 4.
      const shape = DTYPE_BITS[dtype] % 8 === 0 ? shape0 : [...shape0, 4];
      const bytes = (shape.reduce((a, b) => a * b, 1) * DTYPE_BITS[dtype]) / 8;
      entries.push({ key: JSON.stringify(`t${i}`), dtype: JSON.stringify(dtype), shape: shape.map(String), offsets: [String(at), String(at + bytes)] });
      at += bytes;
    }
    return { entries, metadata: '{"format":"pt"}', dataLength: at };
  }));

type Model = { entries: Entry[]; metadata: string | null; dataLength: number };

const serialize = (m: Model): Uint8Array => {
  const parts = m.entries.map((e) => (e.asArray
    ? `${e.key}:[${e.dtype},[${e.shape.join(',')}],[${e.offsets.join(',')}]]`
    : `${e.key}:{"dtype":${e.dtype},"shape":[${e.shape.join(',')}],"data_offsets":[${e.offsets.join(',')}]${e.extra ?? ''}}`));
  if (m.metadata !== null) parts.unshift(`"__metadata__":${m.metadata}`);
  const header = new TextEncoder().encode(`{${parts.join(',')}}`);
  const out = new Uint8Array(8 + header.length + m.dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  for (let i = 8 + header.length; i < out.length; i++) out[i] = i & 0xff;
  return out;
};

/** One edit; `pick` chooses the entry/token it applies to. */
const mutation = fc.tuple(fc.constantFrom(
  'float_number', 'exponent_number', 'negative_zero', 'huge_number', 'bump_number', 'repeat_entry', 'drop_entry', 'swap_dtype',
  'odd_dtype', 'nest_value', 'lone_surrogate', 'surrogate_pair', 'metadata_null', 'metadata_twice', 'resize_data', 'array_entry', 'dtype_map',
), fc.nat(), fc.integer({ min: -9, max: 9 }));

function mutateModel(m: Model, [kind, pick, delta]: [string, number, number]): Model {
  const entries = m.entries.map((e) => ({ ...e, shape: [...e.shape], offsets: [...e.offsets] }));
  const out: Model = { entries, metadata: m.metadata, dataLength: m.dataLength };
  const e = entries.length > 0 ? entries[pick % entries.length]! : undefined;
  const tokens = e ? [...e.shape.map((_, i) => ['shape', i] as const), ['offsets', 0] as const, ['offsets', 1] as const] : [];
  const token = tokens.length > 0 ? tokens[(pick >> 3) % tokens.length]! : undefined;
  const edit = (f: (t: string) => string): void => {
    if (!e || !token) return;
    const list = token[0] === 'shape' ? e.shape : e.offsets;
    list[token[1]] = f(list[token[1]]!);
  };
  switch (kind) {
    case 'float_number': edit((t) => `${t}.0`); break;
    case 'exponent_number': edit((t) => `${t}e0`); break;
    case 'negative_zero': edit(() => '-0'); break;
    case 'huge_number': edit(() => ['18446744073709551615', '18446744073709551616', '9007199254740993', '1e400'][pick % 4]!); break;
    case 'bump_number': edit((t) => String(Math.max(0, Number(t) + delta))); break;
    // An identical repeat (upstream keeps the last: still valid) or one with shifted offsets.
    case 'repeat_entry': if (e) entries.push({ ...e, offsets: delta >= 0 ? [...e.offsets] : e.offsets.map((t) => String(Math.max(0, Number(t) - delta))) }); break;
    case 'drop_entry': if (e) entries.splice(entries.indexOf(e), 1); break;
    case 'swap_dtype': if (e) e.dtype = JSON.stringify(FILE_DTYPES[pick % FILE_DTYPES.length]); break;
    case 'odd_dtype': if (e) e.dtype = ['"F8"', '"f32"', '7', 'null', '{}', '{"F32":1}', '""'][pick % 7]!; break;
    case 'nest_value': if (e) e.extra = `,"x":${'['.repeat(100 + (pick % 60))}${']'.repeat(100 + (pick % 60))}`; break;
    case 'lone_surrogate': if (e) e.key = `"t\\ud${(0x800 + (pick % 0x800)).toString(16)}"`; break;
    case 'surrogate_pair': if (e) e.key = '"t\\ud83d\\ude00"'; break;
    case 'metadata_null': out.metadata = null; break;
    case 'metadata_twice': out.metadata = `${m.metadata ?? 'null'},"__metadata__":null`; break;
    case 'resize_data': out.dataLength = Math.max(0, m.dataLength + delta); break;
    case 'array_entry': if (e) e.asArray = true; break;
    case 'dtype_map': if (e) e.dtype = `{${e.dtype}:null}`; break;
  }
  return out;
}

test('valid files of every dtype open, and structure-aware mutations give a valid parse or a named error', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(validFile, fc.array(mutation, { maxLength: 3 }), (model, edits) => {
      exercise(serialize(model)); // the unmutated file is valid: it must open
      return readerIsWellBehaved(serialize(edits.reduce(mutateModel, model)));
    }),
    { numRuns: 1500 },
  );
});
