// Fuzzing the reader with mutated copies of a valid file: it must either open and read
// consistent data or throw a SafetensorsError; never another exception, never hang.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { SafetensorsError, SafetensorsFile, dtypeSize, encodeSafetensors } from '../src/safetensors/index.ts';

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
    for (const name of f.names()) {
      const info = f.info(name);
      const count = info.shape.reduce((a, b) => a * b, 1);
      assert.equal(info.byteLength, count * dtypeSize(info.dtype), 'byteLength matches shape');
      assert.ok(info.byteOffset >= 8 && info.byteOffset + info.byteLength <= bytes.length, 'tensor lies inside the file');
      assert.deepEqual(f.readBytes(name), bytes.subarray(info.byteOffset, info.byteOffset + info.byteLength));
      assert.equal(f.readFloat32(name).length, count);
      for (const read of [() => f.readInt32(name), () => f.readBigInt64(name), () => f.readFloat64(name)]) {
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
