// Tensors through safetensors files: round trip, half-precision storage, prefixes, sharded folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCpuBackend, fromSafetensors, saveSafetensors, tensor, writeShardedCheckpoint, bf16BitsToF32, f32ToBf16Bits } from '../src/index.ts';

const backend = createCpuBackend();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-io-'));

test('save and load float32 and int32 tensors exactly', async () => {
  const w = tensor([[1.5, -2.25, 3e-8], [0, -0, 1e30]], undefined, { backend });
  const ids = tensor(Int32Array.from([7, -100, 2147483647]), [3], { backend });
  const file = path.join(tmp, 'a.safetensors');
  await saveSafetensors(file, { 'model.w': w, ids }, { metadata: { note: 'x' } });
  const back = fromSafetensors(file, { backend });
  assert.deepEqual(back.get('model.w')!.shape, [2, 3]);
  assert.deepEqual(Array.from(back.get('model.w')!.dataSync()), Array.from(w.dataSync()));
  assert.equal(back.get('ids')!.dtype, 'int32');
  assert.deepEqual(Array.from(back.get('ids')!.dataSync()), [7, -100, 2147483647]);
  const stripped = fromSafetensors(file, { backend, stripPrefix: 'model.' });
  assert.deepEqual([...stripped.keys()], ['w']);
});

test('BF16 storage rounds to nearest even and decodes on load', async () => {
  const vals = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.14159, -65504];
  const file = path.join(tmp, 'b.safetensors');
  await saveSafetensors(file, { x: tensor(vals, undefined, { backend }) }, { floatDtype: 'BF16' });
  const got = Array.from(fromSafetensors(file, { backend }).get('x')!.dataSync());
  assert.deepEqual(got, vals.map((v) => bf16BitsToF32(f32ToBf16Bits(v))));
  assert.equal(got[0], 1);
});

test('sharded checkpoint folders load through the index', () => {
  const dir = path.join(tmp, 'sharded');
  fs.mkdirSync(dir);
  const tensors = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`layer.${i}.weight`, { dtype: 'F32' as const, shape: [4, 4], data: new Float32Array(16).fill(i) }]));
  writeShardedCheckpoint(dir, tensors, { maxShardBytes: 100 });
  const back = fromSafetensors(dir, { backend });
  assert.equal(back.size, 5);
  assert.equal(back.get('layer.3.weight')!.dataSync()[5], 3);
});

test('a missing file is named in the error', () => {
  assert.throws(() => fromSafetensors(path.join(tmp, 'nope.safetensors'), { backend }), /nope\.safetensors/);
});
