// The golden dtypes fixture (made by PyTorch): our F16/BF16 codecs and integer reads must
// reproduce it bit for bit. Also: every golden .safetensors header must parse.
//
// The fixture folder is $RECONVLA_GOLDEN_DIR, or the repository's golden/.
// Sizes and shapes always come from the files, never from this test.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsError, SafetensorsFile } from '../src/safetensors/index.ts';
import { encodeBf16, encodeF16 } from '../src/half.ts';
import { findFixtures, goldenDir, skipOrFail } from '../../../test/helpers/golden.ts';

const dtypesFiles = findFixtures(/^dtypes/);

/** Runs fn on every dtypes* fixture, or skips (fails under CI=true) when there is none. */
function eachDtypesFixture(t: TestContext, fn: (f: SafetensorsFile, file: string) => void): void {
  if (dtypesFiles.length === 0) { skipOrFail(t, `no dtypes*.safetensors in ${goldenDir()} (set RECONVLA_GOLDEN_DIR)`); return; }
  for (const file of dtypesFiles) {
    const f = SafetensorsFile.open(file);
    try { fn(f, file); } finally { f.close(); }
  }
}

/** The tensor's little-endian elements decoded with DataView, independently of the reader. */
function littleEndian(bytes: Uint8Array, dtype: 'F32' | 'I32' | 'I64'): (number | bigint)[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = dtype === 'I64' ? 8 : 4;
  return Array.from({ length: bytes.byteLength / size }, (_, i) =>
    dtype === 'F32' ? view.getFloat32(i * size, true) : dtype === 'I32' ? view.getInt32(i * size, true) : view.getBigInt64(i * size, true));
}

/** Same float32 value, with NaN equal to NaN and -0 distinct from +0. */
function assertSameFloats(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) assert.ok(Number.isNaN(got[i]), `${what}[${i}]: expected NaN, got ${got[i]}`);
    else assert.ok(Object.is(got[i], want[i]), `${what}[${i}]: expected ${want[i]}, got ${got[i]}`);
  }
}

/** Same 16-bit patterns, except that any NaN pattern matches any other NaN pattern: PyTorch's
 * vectorized bf16 cast writes NaN as 0xffff, its scalar one as 0x7fc0; both mean NaN. */
function assertSameHalfBits(got: Uint16Array, want: Uint16Array, expBits: number, what: string): void {
  const isNaNBits = (h: number) => (h & expBits) === expBits && (h & ~expBits & 0x7fff) !== 0;
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (isNaNBits(want[i])) assert.ok(isNaNBits(got[i]), `${what}[${i}]: expected a NaN, got 0x${got[i].toString(16)}`);
    else assert.equal(got[i].toString(16), want[i].toString(16), `${what}[${i}]`);
  }
}

const u16 = (bytes: Uint8Array) => new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);

test('dtypes fixture: F16/BF16 decode reproduces the float32 widening bit for bit', (t) => {
  eachDtypesFixture(t, (f) => {
    const f16 = f.readFloat32('input.values.f16');
    const bf16 = f.readFloat32('input.values.bf16');
    assert.deepEqual(f.info('input.values.f16').shape, f.info('output.values.f16_as_f32').shape);
    assertSameFloats(f16, f.readFloat32('output.values.f16_as_f32'), 'f16 -> f32');
    assertSameFloats(bf16, f.readFloat32('output.values.bf16_as_f32'), 'bf16 -> f32');
  });
});

test('dtypes fixture: encoding input.values.f32 reproduces the F16/BF16 bit patterns', (t) => {
  eachDtypesFixture(t, (f) => {
    const x = f.readFloat32('input.values.f32');
    assert.equal(f.info('input.values.f16').dtype, 'F16');
    assert.equal(f.info('input.values.bf16').dtype, 'BF16');
    assertSameHalfBits(encodeF16(x), u16(f.readBytes('input.values.f16')), 0x7c00, 'f32 -> f16');
    assertSameHalfBits(encodeBf16(x), u16(f.readBytes('input.values.bf16')), 0x7f80, 'f32 -> bf16');
    // The special cases the fixture lists in __metadata__, found by value rather than position.
    const specials: string[] = JSON.parse(f.metadata['special_values_order'] ?? '[]');
    const asF16 = f.readFloat32('input.values.f16');
    if (specials.includes('-0.0')) {
      const negZero = x.findIndex((v) => Object.is(v, -0));
      assert.ok(negZero >= 0 && Object.is(asF16[negZero], -0), '-0 survives');
    }
    if (specials.includes('65520.0')) {
      const overflow = x.indexOf(65520);
      assert.ok(overflow >= 0 && asF16[overflow] === Infinity, '65520 overflows float16 to inf');
    }
  });
});

test('dtypes fixture: 0-dim scalar and integer tensors read exactly (checked against an independent decode)', (t) => {
  eachDtypesFixture(t, (f, file) => {
    assert.deepEqual(f.info('input.scalar.f32').shape, []);
    assert.deepEqual([...f.readFloat32('input.scalar.f32')], littleEndian(f.readBytes('input.scalar.f32'), 'F32'));
    assert.equal(f.readFloat32('input.scalar.f32').length, 1, 'a 0-dim tensor holds one element');

    for (const name of f.names().filter((n) => n.startsWith('input.ids.'))) {
      const info = f.info(name);
      const count = info.shape.reduce((a, b) => a * b, 1);
      const raw = littleEndian(f.readBytes(name), info.dtype as 'I32' | 'I64');
      assert.equal(raw.length, count, `${name}: element count`);
      if (info.dtype === 'I32') {
        assert.deepEqual([...f.readInt32(name)], raw, `${name}: readInt32`);
        continue;
      }
      assert.equal(info.dtype, 'I64', `${name}: integer ids are I64 or I32`);
      const exact = f.readBigInt64(name);
      assert.deepEqual([...exact], raw, `${name}: readBigInt64`);
      // Values a JS number cannot hold exactly, or int32 cannot hold at all, must be named errors.
      const unsafe = [...exact].find((v) => v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER));
      if (unsafe === undefined) assert.deepEqual([...f.readFloat64(name)].map(BigInt), [...exact], `${name}: readFloat64 is exact`);
      else assert.throws(() => f.readFloat64(name), /not exactly representable/);
      const outside = [...exact].find((v) => v > 2147483647n || v < -2147483648n);
      if (outside === undefined) assert.deepEqual([...f.readInt32(name)].map(BigInt), [...exact]);
      else {
        assert.throws(() => f.readInt32(name), (e: unknown) =>
          e instanceof SafetensorsError && e.message.includes(file) && e.message.includes(JSON.stringify(name)) && e.message.includes(String(outside)));
      }
    }
  });
});

test('every golden .safetensors file has a valid header and readable tensors', (t) => {
  const dir = goldenDir();
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')) : [];
  if (files.length === 0) {
    skipOrFail(t, `no .safetensors files in ${dir} (set RECONVLA_GOLDEN_DIR)`);
    return;
  }
  for (const file of files) {
    const f = SafetensorsFile.open(path.join(dir, file));
    try {
      assert.ok(f.names().length > 0, `${file} holds tensors`);
      for (const name of f.names()) {
        const info = f.info(name);
        assert.equal(f.readBytes(name).byteLength, info.byteLength);
      }
    } finally {
      f.close();
    }
  }
});
