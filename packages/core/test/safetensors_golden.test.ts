// The golden dtypes fixture (made by PyTorch): our F16/BF16 codecs and integer reads must
// reproduce it bit for bit. Also: every golden .safetensors header must parse.
//
// The fixture folder is $RECONVLA_GOLDEN_DIR, or ../shared/golden next to the repo root.
// Sizes and shapes always come from the files, never from this test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsError, SafetensorsFile } from '../src/safetensors/index.ts';
import { encodeBf16, encodeF16 } from '../src/half.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const goldenDir = process.env.RECONVLA_GOLDEN_DIR ?? path.resolve(repoRoot, '../shared/golden');
const dtypesPath = path.join(goldenDir, 'dtypes.safetensors');
const haveDtypes = fs.existsSync(dtypesPath);
const skipDtypes = haveDtypes ? false : `golden fixture missing: ${dtypesPath} (set RECONVLA_GOLDEN_DIR)`;

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

test('dtypes fixture: F16/BF16 decode reproduces the float32 widening bit for bit', { skip: skipDtypes }, () => {
  const f = SafetensorsFile.open(dtypesPath);
  try {
    const f16 = f.readFloat32('input.values.f16');
    const bf16 = f.readFloat32('input.values.bf16');
    assert.deepEqual(f.info('input.values.f16').shape, f.info('output.values.f16_as_f32').shape);
    assertSameFloats(f16, f.readFloat32('output.values.f16_as_f32'), 'f16 -> f32');
    assertSameFloats(bf16, f.readFloat32('output.values.bf16_as_f32'), 'bf16 -> f32');
  } finally {
    f.close();
  }
});

test('dtypes fixture: encoding input.values.f32 reproduces the F16/BF16 bit patterns', { skip: skipDtypes }, () => {
  const f = SafetensorsFile.open(dtypesPath);
  try {
    const x = f.readFloat32('input.values.f32');
    assert.equal(f.info('input.values.f16').dtype, 'F16');
    assert.equal(f.info('input.values.bf16').dtype, 'BF16');
    assertSameHalfBits(encodeF16(x), u16(f.readBytes('input.values.f16')), 0x7c00, 'f32 -> f16');
    assertSameHalfBits(encodeBf16(x), u16(f.readBytes('input.values.bf16')), 0x7f80, 'f32 -> bf16');
    // Special cases from the README, found by value rather than position.
    const asF16 = f.readFloat32('input.values.f16');
    const negZero = x.findIndex((v) => Object.is(v, -0));
    assert.ok(negZero >= 0 && Object.is(asF16[negZero], -0), '-0 survives');
    const overflow = x.indexOf(65520);
    assert.ok(overflow >= 0 && asF16[overflow] === Infinity, '65520 overflows float16 to inf');
  } finally {
    f.close();
  }
});

test('dtypes fixture: 0-dim scalar and integer tensors', { skip: skipDtypes }, () => {
  const f = SafetensorsFile.open(dtypesPath);
  try {
    assert.deepEqual(f.info('input.scalar.f32').shape, []);
    assert.deepEqual(f.readFloat32('input.scalar.f32'), Float32Array.of(Math.PI));

    const i64 = f.info('input.ids.i64');
    assert.equal(i64.dtype, 'I64');
    const ids = f.readFloat64('input.ids.i64');
    assert.equal(ids.length, i64.shape.reduce((a, b) => a * b, 1));
    const exact = f.readBigInt64('input.ids.i64');
    for (let i = 0; i < ids.length; i++) assert.equal(BigInt(ids[i]), exact[i], `input.ids.i64[${i}] read exactly`);
    for (const v of [2 ** 31, -(2 ** 31) - 1, 2 ** 32, -100, 151643]) assert.ok(ids.includes(v), `input.ids.i64 holds ${v}`);

    const extreme = f.readBigInt64('input.ids.i64_extreme');
    assert.deepEqual([...extreme], [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]);
    assert.throws(() => f.readInt32('input.ids.i64_extreme'), (e: unknown) =>
      e instanceof SafetensorsError && e.message.includes(dtypesPath) && e.message.includes('"input.ids.i64_extreme"') && e.message.includes('9223372036854775807'));
    assert.throws(() => f.readFloat64('input.ids.i64_extreme'), /not exactly representable/);

    assert.equal(f.info('input.ids.i32').dtype, 'I32');
    assert.deepEqual([...f.readInt32('input.ids.i32')], [0, 1, -1, 2147483647, -2147483648, 12345]);
  } finally {
    f.close();
  }
});

test('every golden .safetensors file has a valid header and readable tensors', (t) => {
  if (!fs.existsSync(goldenDir)) {
    t.skip(`golden dir missing: ${goldenDir} (set RECONVLA_GOLDEN_DIR)`);
    return;
  }
  const files = fs.readdirSync(goldenDir).filter((f) => f.endsWith('.safetensors'));
  if (files.length === 0) {
    t.skip(`no .safetensors files in ${goldenDir}`);
    return;
  }
  for (const file of files) {
    const f = SafetensorsFile.open(path.join(goldenDir, file));
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
