// Write -> read round trips for every dtype, bit for bit, plus the reader's API surface.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  DTYPES, SafetensorsError, SafetensorsFile, dtypeSize, encodeSafetensors, openCheckpoint, writeSafetensors,
  type SafetensorsDtype, type TensorData, type TensorsToWrite,
} from '../src/safetensors/index.ts';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from '../src/half.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-roundtrip-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
const freshPath = () => path.join(dir, `t${fileCounter++}.safetensors`);

const bytesOf = (a: TensorData) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Data of exactly n elements for a dtype, as the element array the writer expects. */
function dataArb(dtype: SafetensorsDtype, n: number): fc.Arbitrary<TensorData> {
  const len = { minLength: n, maxLength: n };
  switch (dtype) {
    case 'F64': return fc.float64Array(len); // includes NaN, -0, +-inf, subnormals
    case 'F32': return fc.float32Array(len);
    case 'F16': case 'BF16': case 'U16': return fc.array(fc.integer({ min: 0, max: 0xffff }), len).map((a) => Uint16Array.from(a));
    case 'I64': return fc.bigInt64Array(len);
    case 'U64': return fc.bigUint64Array(len);
    case 'I32': return fc.int32Array(len);
    case 'U32': return fc.uint32Array(len);
    case 'I16': return fc.int16Array(len);
    case 'I8': return fc.int8Array(len);
    case 'U8': return fc.uint8Array(len);
    case 'BOOL': return fc.array(fc.integer({ min: 0, max: 1 }), len).map((a) => Uint8Array.from(a));
  }
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }); // includes [] and empty tensors

const tensorArb = fc
  .tuple(fc.constantFrom(...DTYPES), shapeArb)
  .chain(([dtype, shape]) => dataArb(dtype, shape.reduce((a, b) => a * b, 1)).map((data) => ({ dtype, shape, data })));

const tensorsArb = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), tensorArb, { maxKeys: 6 });
const metadataArb = fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 16 }), { maxKeys: 3 });

test('every dtype round-trips bit for bit, with metadata, 0-dim and empty tensors', () => {
  fc.assert(
    fc.property(tensorsArb, metadataArb, (tensors: TensorsToWrite, metadata) => {
      const p = freshPath();
      writeSafetensors(p, tensors, metadata);
      assert.deepEqual(new Uint8Array(fs.readFileSync(p)), encodeSafetensors(tensors, metadata));
      const f = SafetensorsFile.open(p);
      try {
        // Compare entries: fast-check may hand us a null-prototype object.
        assert.deepEqual(Object.entries(f.metadata).sort(), Object.entries(metadata).sort());
        assert.deepEqual(f.names().sort(), Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) {
          const info = f.info(name);
          assert.equal(info.dtype, t.dtype);
          assert.deepEqual(info.shape, t.shape);
          assert.equal(info.byteOffset % dtypeSize(t.dtype), 0, 'layout keeps typed views aligned');
          assert.deepEqual(f.readBytes(name), bytesOf(t.data));
        }
      } finally {
        f.close();
      }
    }),
    { numRuns: 150 },
  );
});

test('typed reads decode each dtype to the right values', () => {
  const p = freshPath();
  const f32 = Float32Array.of(0, -0, 1.5, -2.25, Infinity, -Infinity, NaN, 1e-45, 3.4e38);
  writeSafetensors(p, {
    f64: { dtype: 'F64', shape: [3], data: Float64Array.of(0.1, -1e300, 1e-320) },
    f32: { dtype: 'F32', shape: [3, 3], data: f32 },
    f16: { dtype: 'F16', shape: [9], data: f32 }, // Float32Array input is rounded to F16
    bf16: { dtype: 'BF16', shape: [9], data: f32 },
    i64: { dtype: 'I64', shape: [4], data: BigInt64Array.of(0n, -1n, 2n ** 31n, -(2n ** 53n) + 1n) },
    i64_from_i32: { dtype: 'I64', shape: [2], data: Int32Array.of(-7, 2147483647) },
    i16: { dtype: 'I16', shape: [2], data: Int16Array.of(-32768, 32767) },
    u8: { dtype: 'U8', shape: [2], data: Uint8Array.of(0, 255) },
    flag: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
    pi: { dtype: 'F32', shape: [], data: Float32Array.of(Math.PI) },
    none: { dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
  }, { format: 'pt' });
  const f = SafetensorsFile.open(p);
  assert.deepEqual(f.readFloat32('f64'), Float32Array.of(0.1, -Infinity, 0));
  assert.deepEqual(f.readFloat64('f64'), Float64Array.of(0.1, -1e300, 1e-320));
  assert.deepEqual(f.readFloat32('f32'), f32);
  assert.deepEqual(f.readFloat32('f16'), decodeF16(encodeF16(f32)));
  assert.deepEqual(f.readFloat32('bf16'), decodeBf16(encodeBf16(f32)));
  assert.deepEqual(f.readBigInt64('i64'), BigInt64Array.of(0n, -1n, 2n ** 31n, -(2n ** 53n) + 1n));
  assert.deepEqual(f.readFloat64('i64'), Float64Array.of(0, -1, 2 ** 31, -(2 ** 53) + 1));
  assert.deepEqual(f.readInt32('i64_from_i32'), Int32Array.of(-7, 2147483647));
  assert.deepEqual(f.readInt32('i16'), Int32Array.of(-32768, 32767));
  assert.deepEqual(f.readFloat32('u8'), Float32Array.of(0, 255));
  assert.deepEqual(f.readInt32('flag'), Int32Array.of(1, 0));
  assert.deepEqual(f.readBigInt64('flag'), BigInt64Array.of(1n, 0n));
  assert.deepEqual(f.readFloat32('pi'), Float32Array.of(Math.PI));
  assert.deepEqual(f.info('pi').shape, []);
  assert.deepEqual(f.readFloat32('none'), new Float32Array(0));
  assert.deepEqual(f.info('none').shape, [0, 5]);
  assert.throws(() => f.readInt32('i64'), (e: unknown) => e instanceof SafetensorsError && /tensor "i64": I64 value 2147483648 at index 2 does not fit in int32/.test(e.message));
  assert.throws(() => f.readInt32('f32'), /tensor "f32": is F32; readInt32 needs an integer/);
  assert.throws(() => f.readBigInt64('f16'), /tensor "f16": is F16/);
  f.close();
  assert.throws(() => f.readBytes('f32'), /file is closed/);
  f.close(); // twice is fine
});

test('API: info, has, names, unknown names, metadata and openCheckpoint on a file or dir', () => {
  const sub = path.join(dir, 'single');
  fs.mkdirSync(sub);
  const p = path.join(sub, 'model.safetensors');
  writeSafetensors(p, {
    'model.layers.0.weight': { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) },
    'model.layers.0.bias': { dtype: 'F16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) },
    'ids': { dtype: 'I64', shape: [1], data: BigInt64Array.of(5n) },
  }, { note: 'hello' });
  for (const source of [openCheckpoint(p), openCheckpoint(sub)]) {
    assert.equal(source.path, p);
    assert.deepEqual(source.metadata, { note: 'hello' });
    assert.ok(source.has('ids') && !source.has('nope'));
    // Layout: 8-byte elements first, then 4, then 2; names break ties.
    assert.deepEqual(source.names(), ['ids', 'model.layers.0.weight', 'model.layers.0.bias']);
    const info = source.info('model.layers.0.bias');
    assert.deepEqual({ ...info, byteOffset: 0 }, { name: 'model.layers.0.bias', dtype: 'F16', shape: [2], byteOffset: 0, byteLength: 4, path: p });
    assert.deepEqual(source.readFloat32('model.layers.0.bias'), Float32Array.of(1, -2));
    assert.throws(() => source.info('model.layers.0.wieght'), (e: unknown) =>
      e instanceof SafetensorsError && e.message.includes(p) && /no tensor "model.layers.0.wieght" \(3 available, e.g. "model.layers.0.weight"/.test(e.message));
    source.close();
  }
  // byteOffset is absolute: reading the file there gives the tensor's bytes.
  const f = SafetensorsFile.open(p);
  const info = f.info('model.layers.0.weight');
  const whole = fs.readFileSync(p);
  assert.deepEqual(new Uint8Array(whole.subarray(info.byteOffset, info.byteOffset + info.byteLength)), bytesOf(Float32Array.of(1, 2, 3, 4)));
  f.close();
});

test('the writer pads the header to a multiple of 8 with spaces and validates its input', () => {
  const bytes = encodeSafetensors({ a: { dtype: 'U8', shape: [1], data: Uint8Array.of(7) } });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  assert.match(new TextDecoder().decode(bytes.subarray(8, 8 + n)), /^\{.*\} *$/);

  const p = freshPath();
  const bad = (tensors: TensorsToWrite, re: RegExp, metadata?: Record<string, string>) =>
    assert.throws(() => writeSafetensors(p, tensors, metadata), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${p}: `) && re.test(e.message));
  bad({ x: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }, /tensor "x": shape \[2,3\] of F32 needs 6 elements but the Float32Array has 5/);
  bad({ x: { dtype: 'F32', shape: [2], data: new Int32Array(2) } }, /tensor "x": F32 data must be Float32Array .*got Int32Array/);
  bad({ x: { dtype: 'F16', shape: [2], data: new Uint8Array(3) } }, /tensor "x": shape \[2\] of F16 needs 4 bytes but the raw data has 3/);
  bad({ x: { dtype: 'F32', shape: [-1], data: new Float32Array(0) } }, /tensor "x": shape must be non-negative integers/);
  bad({ x: { dtype: 'F8' as SafetensorsDtype, shape: [1], data: new Uint8Array(1) } }, /tensor "x": unknown dtype "F8"/);
  bad({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }, /tensor "__metadata__": is not a usable tensor name/);
  bad({ flag: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(0, 2) } }, /tensor "flag": BOOL data must be 0 or 1, but index 1 holds 2/);
  bad({}, /metadata key "k" must hold a string/, { k: 5 as unknown as string });
  assert.ok(!fs.existsSync(p));
});
