// Atomic writes and sharded checkpoints.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  INDEX_FILE_NAME, SafetensorsError, ShardedCheckpoint, dtypeSize, openCheckpoint, writeSafetensors, writeShardedCheckpoint,
  type TensorData, type TensorsToWrite,
} from '../src/safetensors/index.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-write-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => {
  const d = path.join(root, `d${counter++}`);
  fs.mkdirSync(d);
  return d;
};

const bytesOf = (a: TensorData) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const tempFiles = (d: string) => fs.readdirSync(d).filter((f) => f.includes('.tmp-'));

const good: TensorsToWrite = {
  a: { dtype: 'F32', shape: [4], data: Float32Array.of(1, 2, 3, 4) },
};

test('a write that fails midway leaves the old file unchanged and no temp file', () => {
  const d = freshDir();
  const p = path.join(d, 'model.safetensors');
  writeSafetensors(p, good, { version: 'old' });
  const before = fs.readFileSync(p);

  // The BOOL value is only checked while its bytes are produced, after the F32 tensor has
  // already gone into the temp file: a genuine mid-write failure.
  const midway: TensorsToWrite = { ...good, mask: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(1, 9) } };
  assert.throws(() => writeSafetensors(p, midway, { version: 'new' }), (e: unknown) =>
    e instanceof SafetensorsError && e.message.startsWith(`${p}: `) && /tensor "mask": BOOL data must be 0 or 1/.test(e.message));
  assert.deepEqual(fs.readFileSync(p), before);
  assert.deepEqual(tempFiles(d), []);

  // An invalid tensor after the first is caught before any byte is written.
  const invalid: TensorsToWrite = { ...good, z: { dtype: 'F32', shape: [3], data: new Float32Array(2) } };
  assert.throws(() => writeSafetensors(p, invalid), /tensor "z": shape \[3\] of F32 needs 3 elements/);
  assert.deepEqual(fs.readFileSync(p), before);
  assert.deepEqual(tempFiles(d), []);

  // A failing rename (the target is a directory) also cleans up the fully written temp file.
  const blocked = path.join(d, 'blocked.safetensors');
  fs.mkdirSync(blocked);
  assert.throws(() => writeSafetensors(blocked, good), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${blocked}: cannot write`));
  assert.deepEqual(tempFiles(d), []);

  // A missing directory is reported, not created.
  const nowhere = path.join(d, 'missing', 'x.safetensors');
  assert.throws(() => writeSafetensors(nowhere, good), (e: unknown) => e instanceof SafetensorsError && e.message.startsWith(`${nowhere}: cannot write`));

  // And a successful write replaces the file.
  writeSafetensors(p, { b: { dtype: 'I32', shape: [1], data: Int32Array.of(3) } }, { version: 'new' });
  const f = openCheckpoint(p);
  assert.deepEqual(f.names(), ['b']);
  assert.deepEqual(f.metadata, { version: 'new' });
  f.close();
  assert.deepEqual(tempFiles(d), []);
});

test('sharded write with a small maxShardBytes reopens through the index', () => {
  const d = path.join(freshDir(), 'ckpt'); // created by the writer
  const tensors: TensorsToWrite = {};
  for (let i = 0; i < 10; i++) {
    tensors[`layers.${i}.weight`] = { dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, j) => i * 100 + j) };
    tensors[`layers.${i}.ids`] = { dtype: 'I64', shape: [2], data: BigInt64Array.of(BigInt(i), -(1n << 62n)) };
  }
  tensors['embed.big'] = { dtype: 'BF16', shape: [100], data: new Uint16Array(100).fill(0x3f80) }; // 200 B > max: own shard
  const result = writeShardedCheckpoint(d, tensors, { maxShardBytes: 128, metadata: { format: 'pt' } });

  assert.ok(result.shardPaths.length > 5);
  const n = String(result.shardPaths.length).padStart(5, '0');
  result.shardPaths.forEach((p, i) => assert.equal(path.basename(p), `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`));
  assert.equal(result.indexPath, path.join(d, INDEX_FILE_NAME));
  assert.deepEqual(tempFiles(d), []);

  const index = JSON.parse(fs.readFileSync(result.indexPath, 'utf8'));
  const totalSize = Object.values(tensors).reduce((s, t) => s + t.data.byteLength, 0);
  assert.deepEqual(index.metadata, { format: 'pt', total_size: totalSize });
  assert.deepEqual(Object.keys(index.weight_map).sort(), Object.keys(tensors).sort());

  const ckpt = openCheckpoint(d);
  assert.ok(ckpt instanceof ShardedCheckpoint);
  assert.equal(ckpt.path, result.indexPath);
  assert.deepEqual(ckpt.metadata, { format: 'pt', total_size: String(totalSize) });
  assert.deepEqual(ckpt.names().sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const info = ckpt.info(name);
    assert.equal(path.basename(info.path), index.weight_map[name]);
    assert.deepEqual(info.shape, t.shape);
    assert.deepEqual(ckpt.readBytes(name), bytesOf(t.data));
  }
  assert.deepEqual(ckpt.readFloat32('layers.3.weight'), tensors['layers.3.weight'].data);
  assert.deepEqual(ckpt.readBigInt64('layers.9.ids'), BigInt64Array.of(9n, -(1n << 62n)));
  assert.throws(() => ckpt.readInt32('layers.9.ids'), /value -4611686018427387904 at index 1 does not fit in int32/);
  assert.deepEqual(ckpt.readFloat32('embed.big'), new Float32Array(100).fill(1));
  (ckpt as ShardedCheckpoint).validateAll();
  ckpt.close();
  assert.throws(() => ckpt.readBytes('layers.0.weight'), /checkpoint is closed/);

  // The index file itself also opens.
  const viaIndex = openCheckpoint(result.indexPath);
  assert.equal(viaIndex.names().length, Object.keys(tensors).length);
  viaIndex.close();
});

test('sharded round trip for random tensors and shard limits', () => {
  const tensorArb = fc
    .tuple(fc.constantFrom('F32' as const, 'I32' as const, 'U8' as const), fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 2 }))
    .map(([dtype, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = dtype === 'F32' ? Float32Array.from({ length: n }, (_, i) => i / 3) : dtype === 'I32' ? Int32Array.from({ length: n }, (_, i) => -i) : new Uint8Array(n).fill(5);
      return { dtype, shape, data };
    });
  fc.assert(
    fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter((s) => s !== '__metadata__'), tensorArb, { maxKeys: 8 }), fc.integer({ min: 1, max: 200 }), (tensors, maxShardBytes) => {
      const d = freshDir();
      const { shardPaths } = writeShardedCheckpoint(d, tensors, { maxShardBytes });
      // A shard stays within the limit unless it holds one oversized tensor (plus any
      // empty tensors, which cost nothing).
      for (const p of shardPaths) {
        const shard = openCheckpoint(p);
        const sizes = shard.names().map((name) => shard.info(name).byteLength);
        const bytes = sizes.reduce((a, b) => a + b, 0);
        assert.ok(bytes <= maxShardBytes || sizes.filter((b) => b > 0).length === 1, `${p} holds ${bytes} bytes`);
        shard.close();
      }
      const ckpt = openCheckpoint(d);
      assert.deepEqual(ckpt.names().sort(), Object.keys(tensors).sort());
      for (const [name, t] of Object.entries(tensors)) {
        assert.equal(ckpt.info(name).byteLength, t.data.length * dtypeSize(t.dtype));
        assert.deepEqual(ckpt.readBytes(name), bytesOf(t.data));
      }
      ckpt.close();
    }),
    { numRuns: 40 },
  );
});

test('sharded writer validates before writing anything', () => {
  const d = path.join(freshDir(), 'never');
  assert.throws(() => writeShardedCheckpoint(d, { ...good, bad: { dtype: 'I32', shape: [2], data: new Int32Array(1) } }, { maxShardBytes: 8 }),
    (e: unknown) => e instanceof SafetensorsError && /tensor "bad": shape \[2\] of I32 needs 2 elements/.test(e.message));
  assert.ok(!fs.existsSync(d));
  assert.throws(() => writeShardedCheckpoint(d, good, { maxShardBytes: 0 }), /maxShardBytes must be a positive integer/);
});
