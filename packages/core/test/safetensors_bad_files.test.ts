// Broken files: each must fail with a SafetensorsError that names the file and the problem.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsError, SafetensorsFile, encodeSafetensors, openCheckpoint, writeSafetensors } from '../src/safetensors/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-bad-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let counter = 0;

/** A file from a header (object or raw JSON text) and a data section, with an optional
 * wrong length prefix. */
function rawFile(header: unknown, data: Uint8Array, lengthPrefix?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthPrefix ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function save(bytes: Uint8Array): string {
  const p = path.join(dir, `case${counter++}.safetensors`);
  fs.writeFileSync(p, bytes);
  return p;
}

/** Opening (and, if given, then doing `then`) fails with a SafetensorsError naming p. */
function assertFails(p: string, problem: RegExp, then?: (f: SafetensorsFile) => unknown): void {
  assert.throws(
    () => {
      const f = SafetensorsFile.open(p);
      try {
        then?.(f);
      } finally {
        f.close();
      }
    },
    (e: unknown) => {
      assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${p}: `), `message names the file: ${e.message}`);
      assert.match(e.message, problem);
      return true;
    },
  );
}

const valid = encodeSafetensors({
  'x.weight': { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
  'x.bias': { dtype: 'F32', shape: [2], data: Float32Array.of(7, 8) },
});
const validHeaderLength = Number(new DataView(valid.buffer).getBigUint64(0, true));
const f32x6 = new Uint8Array(24);

test('truncated files', () => {
  assertFails(save(valid.subarray(0, 5)), /file is 5 bytes, too short for the 8-byte header length/);
  assertFails(save(valid.subarray(0, 8 + (validHeaderLength >> 1))), /header length \d+ is larger than the file allows.*truncated header/);
  assertFails(save(valid.subarray(0, valid.length - 4)), /tensor "x\.(weight|bias)" ends at byte \d+ of the data section, which holds only \d+ bytes \(truncated data\?\)/);
});

test('header length prefix larger than the file, or too large', () => {
  assertFails(save(rawFile({}, new Uint8Array(0), 1000n)), /header length 1000 is larger than the file allows \(10 bytes total/);
  assertFails(save(rawFile({}, new Uint8Array(0), 1n << 40n)), /header too large: length prefix says 1099511627776 bytes, limit is 100000000/);
  assertFails(save(rawFile({}, new Uint8Array(0), 0xffffffffffffffffn)), /header too large/);
  const p = save(valid);
  assert.throws(() => SafetensorsFile.open(p, { maxHeaderBytes: 16 }), /header too large: .* limit is 16/);
});

test('bad JSON, bad UTF-8, non-object header', () => {
  assertFails(save(rawFile('{"a": {"dtype": ', new Uint8Array(0))), /header is not valid JSON/);
  assertFails(save(rawFile('', new Uint8Array(0), 0n)), /header length 0 is too short/);
  assertFails(save(rawFile(new TextDecoder('latin1').decode(Uint8Array.of(0x7b, 0xff, 0x7d)), new Uint8Array(0))), /header is not valid JSON|not valid UTF-8/);
  const notUtf8 = rawFile('{}', new Uint8Array(0));
  notUtf8[9] = 0xff;
  assertFails(save(notUtf8), /header is not valid UTF-8/);
  assertFails(save(rawFile('[1, 2]', new Uint8Array(0))), /header must be a JSON object, got an array of 2/);
});

test('bad tensor entries', () => {
  const entry = (e: unknown) => save(rawFile({ 'x.weight': e }, f32x6));
  assertFails(entry({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 12] }), /tensor "x\.weight": data_offsets \[0, 12\] hold 12 bytes but shape \[2, 3\] of F32 needs 24/);
  assertFails(entry({ dtype: 'F7', shape: [6], data_offsets: [0, 6] }), /tensor "x\.weight": unknown dtype "F7" \(known: BOOL, F4, .*F8_E4M3/);
  assertFails(entry({ dtype: 7, shape: [6], data_offsets: [0, 24] }), /tensor "x\.weight": dtype must be a string, got number 7/);
  assertFails(entry({ dtype: 'F32', shape: [2, -3], data_offsets: [0, 24] }), /tensor "x\.weight": shape\[1\] is number -3, not a non-negative integer/);
  assertFails(entry({ dtype: 'F32', shape: [1.5], data_offsets: [0, 24] }), /shape\[0\] is number 1\.5, not a non-negative integer/);
  assertFails(entry({ dtype: 'F32', shape: '6', data_offsets: [0, 24] }), /shape must be an array/);
  assertFails(entry({ dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 24] }), /shape \[1099511627776, 1099511627776\] has more elements than a 64-bit size holds \(upstream: ValidationOverflow\)/);
  assertFails(entry({ dtype: 'F32', shape: [6], data_offsets: [0, 1000] }), /tensor "x\.weight": data_offsets \[0, 1000\] hold 1000 bytes but shape \[6\] of F32 needs 24/);
  assertFails(entry({ dtype: 'F32', shape: [250], data_offsets: [0, 1000] }), /tensor "x\.weight" ends at byte 1000 of the data section, which holds only 24 bytes/);
  assertFails(entry({ dtype: 'F32', shape: [6], data_offsets: [24, 0] }), /data_offsets \[24, 0\] end before they begin/);
  assertFails(entry({ dtype: 'F32', shape: [6], data_offsets: [0] }), /data_offsets must be \[begin, end\], got 1 values/);
  assertFails(entry({ dtype: 'F32', shape: [6], data_offsets: [-1, 23] }), /data_offsets\[0\] is number -1, not a non-negative integer/);
  assertFails(entry({ dtype: 'F32', shape: [6] }), /missing field "data_offsets"/);
  assertFails(entry(null), /tensor "x\.weight": entry must be an object/);
});

test('overlapping tensors', () => {
  const p = save(rawFile({
    a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
    b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
  }, f32x6));
  assertFails(p, /tensor "b": data_offsets \[8, 16\] start inside bytes already used by tensor "a" \(up to 16\): tensors may not overlap/);
  // As upstream, an empty tensor too must sit where the previous tensor ends (not inside it).
  assertFails(save(rawFile({ a: { dtype: 'F32', shape: [6], data_offsets: [0, 24] }, e: { dtype: 'F32', shape: [0], data_offsets: [8, 8] } }, f32x6)), /tensor "e": data_offsets \[8, 8\] start inside bytes already used/);
  const ok = save(rawFile({ a: { dtype: 'F32', shape: [6], data_offsets: [0, 24] }, e: { dtype: 'F32', shape: [0], data_offsets: [24, 24] } }, f32x6));
  SafetensorsFile.open(ok).close();
});

test('bad __metadata__', () => {
  assertFails(save(rawFile({ __metadata__: { epoch: 3 } }, new Uint8Array(0))), /__metadata__ must map strings to strings, but key "epoch" holds number 3/);
  assertFails(save(rawFile({ __metadata__: ['a'] }, new Uint8Array(0))), /__metadata__ must be null or an object of string values/);
});

test('missing files, directories without a checkpoint, broken sharded indexes', () => {
  const missing = path.join(dir, 'nope.safetensors');
  assertFails(missing, /cannot open: ENOENT/);
  assert.throws(() => openCheckpoint(missing), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${missing}: cannot open checkpoint`));

  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  fs.writeFileSync(path.join(empty, 'other.safetensors'), valid);
  assert.throws(() => openCheckpoint(empty), /empty: directory has neither model\.safetensors\.index\.json nor model\.safetensors; it has "other\.safetensors"/);

  const sharded = path.join(dir, 'sharded');
  fs.mkdirSync(sharded);
  const index = path.join(sharded, 'model.safetensors.index.json');
  const writeIndex = (o: unknown) => fs.writeFileSync(index, typeof o === 'string' ? o : JSON.stringify(o));
  const failsWith = (re: RegExp) => assert.throws(() => openCheckpoint(sharded).readFloat32('x.weight'), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, String(e));
    assert.ok(e.message.startsWith(`${index}: `), e.message);
    assert.match(e.message, re);
    return true;
  });

  writeIndex('{"weight_map": ');
  failsWith(/index is not valid JSON/);
  writeIndex({ metadata: {} });
  failsWith(/index needs a "weight_map" object/);
  // A value nested 100,000 deep: the message shows a bounded prefix, no RangeError.
  writeIndex(`{"weight_map":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
  failsWith(/index needs a "weight_map" object of tensor name -> shard file, got \[\[\[\[\.\.\.\]\]\]\]/);
  writeIndex({ weight_map: { 'x.weight': '../escape.safetensors' } });
  failsWith(/weight_map maps tensor "x\.weight" to "\.\.\/escape\.safetensors", which is not a shard file name inside/);
  writeIndex({ weight_map: { 'x.weight': 'model-00001-of-00002.safetensors', 'x.bias': 'model-00002-of-00002.safetensors' } });
  failsWith(/2 of 2 shard files named in weight_map are missing from .*"model-00001-of-00002\.safetensors" \(holds 1 tensor, e\.g\. "x\.weight"\)/);
  writeSafetensors(path.join(sharded, 'model-00001-of-00002.safetensors'), { 'x.weight': { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
  writeSafetensors(path.join(sharded, 'model-00002-of-00002.safetensors'), { 'y.bias': { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
  const ckpt = openCheckpoint(sharded);
  assert.deepEqual(ckpt.readFloat32('x.weight'), Float32Array.of(1));
  assert.throws(() => ckpt.readFloat32('x.bias'), /weight_map puts tensor "x\.bias" in "model-00002-of-00002\.safetensors", but that shard has no such tensor/);
  assert.throws(() => ckpt.info('z'), /no tensor "z" \(2 available/);
  ckpt.close();
});
