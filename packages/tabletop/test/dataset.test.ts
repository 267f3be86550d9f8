import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  DatasetReader, cropResize, decodeSafetensors, encodeSafetensors, generateDataset, readSafetensorsMetadata, tensor, TASK_KINDS, type Tensor,
} from '../src/index.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'tabletop-test-'));

test('safetensors: write then read gives the same tensors, with a spec-conformant header', () => {
  const arb = fc.record({
    u8: fc.uint8Array({ maxLength: 13 }),
    i32: fc.int32Array({ maxLength: 7 }),
    f32: fc.float32Array({ maxLength: 9, noNaN: true }),
    i64: fc.bigInt64Array({ maxLength: 3 }),
    meta: fc.dictionary(fc.string({ minLength: 1 }).filter((k) => k !== '__metadata__'), fc.string(), { maxKeys: 3 }),
  });
  fc.assert(fc.property(arb, ({ u8, i32, f32, i64, meta }) => {
    const ts: Record<string, Tensor> = {
      a: tensor(u8, [u8.length]), b: tensor(i32, [1, i32.length]), c: tensor(f32, [f32.length]), d: tensor(i64, [i64.length]),
    };
    const bytes = encodeSafetensors(ts, meta);
    const n = Number(bytes.readBigUInt64LE(0));
    assert.equal(n % 8, 0);
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
    // The data section is covered exactly, without holes.
    const spans = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => v.data_offsets).sort((x, y) => x[0] - y[0]);
    let end = 0;
    for (const [b, e] of spans) { assert.equal(b, end); end = e; }
    assert.equal(8 + n + end, bytes.length);
    // Read from an unaligned copy too.
    const shifted = new Uint8Array(bytes.length + 1).subarray(1);
    shifted.set(bytes);
    for (const src of [bytes, shifted]) {
      const back = decodeSafetensors(src);
      assert.deepEqual(back.metadata, { ...meta });
      for (const [k, t] of Object.entries(ts)) {
        assert.equal(back.tensors[k]!.dtype, t.dtype);
        assert.deepEqual(back.tensors[k]!.shape, t.shape);
        assert.deepEqual([...back.tensors[k]!.data], [...t.data]);
      }
    }
  }), { numRuns: 50 });
});

test('safetensors: bad input gives clear errors', () => {
  assert.throws(() => tensor(new Float32Array(5), [2, 3]), /shape \[2, 3\] holds 6 elements but the data has 5/);
  assert.throws(() => decodeSafetensors(new Uint8Array(4)), /shorter than the 8-byte header/);
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(100n, 0);
  assert.throws(() => decodeSafetensors(b), /header length 100 runs past the end/);
  const bad = encodeSafetensors({ x: tensor(new Uint8Array(2), [2]) }).toString('latin1').replace('"U8"', '"Q8"');
  assert.throws(() => decodeSafetensors(Buffer.from(bad, 'latin1')), /unsupported dtype Q8/);
});

test('generate: deterministic by seed, sharded, documented tensors', () => {
  const a = tmp(), b = tmp(), c = tmp();
  try {
    const opts = { envs: ['A', 'B'] as ('A' | 'B')[], episodes: 4, seed: 3, shardFrames: 60, staticWidth: 48, staticHeight: 48, gripperWidth: 24, gripperHeight: 24 };
    const ia = generateDataset({ ...opts, out: a });
    generateDataset({ ...opts, out: b });
    generateDataset({ ...opts, out: c, seed: 4 });
    assert.ok(ia.shards.length >= 2, `${ia.shards.length} shards`);
    assert.deepEqual(readdirSync(a).sort(), readdirSync(b).sort());
    for (const f of readdirSync(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
    assert.ok(!readFileSync(join(a, 'shard-00000.safetensors')).equals(readFileSync(join(c, 'shard-00000.safetensors'))));
    const st = decodeSafetensors(readFileSync(join(a, 'shard-00000.safetensors')));
    const T = ia.shards[0]!.frames;
    assert.deepEqual(st.tensors['static_rgb']!.shape, [T, 48, 48, 3]);
    assert.deepEqual(st.tensors['gripper_rgb']!.shape, [T, 24, 24, 3]);
    assert.deepEqual(st.tensors['actions']!.shape, [T, 7]);
    assert.deepEqual(st.tensors['proprio']!.shape, [T, 8]);
    assert.deepEqual(st.tensors['gaze_static']!.shape, [T, 4]);
    assert.equal(st.tensors['episode_start']!.dtype, 'I64');
    const eps = JSON.parse(st.metadata['episodes']!) as { instruction: string; task: { kind: string }; env: string }[];
    assert.equal(eps.length, ia.shards[0]!.episodes);
    for (const e of eps) {
      assert.ok(e.instruction.length > 5);
      assert.ok((TASK_KINDS as readonly string[]).includes(e.task.kind));
    }
    assert.equal(eps[0]!.env, 'A');
    assert.equal(eps[1]!.env, 'B');
    // The header alone gives every shard's episodes, as reading the whole shard does.
    const r = DatasetReader.open(a);
    ia.shards.forEach((_, i) => assert.deepEqual(r.shardEpisodes(i), r.readShard(i).episodes));
    assert.deepEqual(readSafetensorsMetadata(join(a, 'shard-00000.safetensors')), st.metadata);
    const cut = join(a, 'cut.safetensors');
    writeFileSync(cut, readFileSync(join(a, 'shard-00000.safetensors')).subarray(0, 40));
    assert.throws(() => readSafetensorsMetadata(cut), /cut\.safetensors: not a safetensors file: header length \d+ runs past the end \(40 bytes\)/);
    writeFileSync(cut, Buffer.alloc(3));
    assert.throws(() => readSafetensorsMetadata(cut), /cut\.safetensors: not a safetensors file: 3 bytes is shorter than the 8-byte header length/);
    assert.throws(() => r.shardEpisodes(ia.shards.length), /shard \d+ does not exist/);
  } finally {
    for (const d of [a, b, c]) rmSync(d, { recursive: true, force: true });
  }
});

test('reader: seeded shuffling visits every frame once per epoch; crops are the gaze region', async () => {
  const dir = tmp();
  try {
    generateDataset({ out: dir, envs: ['C'], episodes: 5, seed: 1, shardFrames: 50, staticWidth: 64, staticHeight: 64, gripperWidth: 32, gripperHeight: 32 });
    const r = DatasetReader.open(dir);
    const order = async (seed: number, shuffle = true): Promise<string[]> => {
      const out: string[] = [];
      for await (const b of r.batches({ batchSize: 16, seed, shuffle, epochs: 1, onlySuccessful: false, cropSize: 0 })) {
        for (let i = 0; i < b.size; i++) out.push(`${b.episodes[i]}:${b.frameInEpisode[i]}`);
      }
      return out;
    };
    const o1 = await order(1), o1b = await order(1), o2 = await order(2), plain = await order(0, false);
    assert.equal(o1.length, r.index.frames);
    assert.equal(new Set(o1).size, r.index.frames, 'each frame exactly once');
    assert.deepEqual(o1, o1b, 'same seed, same order');
    assert.notDeepEqual(o1, o2, 'different seed, different order');
    assert.deepEqual([...o1].sort(), [...plain].sort());
    assert.notDeepEqual(o1, plain);
    // Crops: recompute one from the frame and its box.
    const shard = r.readShard(0);
    for await (const b of r.batches({ batchSize: 8, seed: 3, cropSize: 16, onlySuccessful: false })) {
      for (let i = 0; i < b.size; i++) {
        const box = { x0: b.gazeStatic[i * 4]!, y0: b.gazeStatic[i * 4 + 1]!, x1: b.gazeStatic[i * 4 + 2]!, y1: b.gazeStatic[i * 4 + 3]! };
        if (box.x0 < 0) { assert.equal(b.cropValid[i], 0); continue; }
        assert.equal(b.cropValid[i], 1);
        const expect = new Uint8Array(16 * 16 * 3);
        cropResize({ width: 64, height: 64, rgb: b.staticRgb.subarray(i * 64 * 64 * 3, (i + 1) * 64 * 64 * 3) }, box, 16, expect);
        assert.deepEqual(b.crops.subarray(i * 768, (i + 1) * 768), expect);
      }
      assert.ok(shard.frames > 0);
      break;
    }
    assert.throws(() => DatasetReader.open(join(dir, 'nope')), /no dataset at .*dataset\.json is missing/);
    await assert.rejects(async () => { for await (const _ of r.batches({ batchSize: 0 })) void _; }, /batchSize must be a positive integer, got 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cropResize of a whole image at its own size is the identity', () => {
  fc.assert(fc.property(fc.integer({ min: 2, max: 12 }), fc.nat(), (n, seed) => {
    const rgb = new Uint8Array(n * n * 3).map((_, i) => (i * 31 + seed) & 255);
    const out = new Uint8Array(n * n * 3);
    cropResize({ width: n, height: n, rgb }, { x0: 0, y0: 0, x1: n, y1: n }, n, out);
    assert.deepEqual(out, rgb);
  }), { numRuns: 30 });
});

test('generate --relabel: the demonstrations unchanged, each copy the same pictures asking another task', () => {
  const plain = tmp(), rel = tmp();
  try {
    const opts = { envs: ['A'] as 'A'[], episodes: 3, seed: 5, noise: 0.15, randomStart: true, tasks: ['lift', 'lamp_on', 'push_left'] as ('lift' | 'lamp_on' | 'push_left')[],
      staticWidth: 32, staticHeight: 32, gripperWidth: 16, gripperHeight: 16, shardFrames: 100000 };
    const ip = generateDataset({ ...opts, out: plain });
    const ir = generateDataset({ ...opts, out: rel, relabel: 2 });
    assert.equal(ip.relabel, 0);
    assert.equal(ir.relabel, 2);
    assert.equal(ir.demonstrations, 3);
    assert.ok(ir.episodes > 3 && ir.episodes <= 9, `${ir.episodes} episodes`);
    const p = DatasetReader.open(plain).readShard(0), r = DatasetReader.open(rel).readShard(0);
    assert.equal(r.episodes.length, ir.episodes);
    const px = p.staticRgb.length / p.frames;
    const start = (eps: typeof r.episodes, i: number): number => eps.slice(0, i).reduce((n, e) => n + e.frames, 0);
    let demo = -1, differing = 0;
    for (let i = 0; i < r.episodes.length; i++) {
      const e = r.episodes[i]!;
      assert.equal(e.index, i);
      if (e.relabelOf === undefined) {
        // A demonstration: the same frames and labels as without relabelling.
        demo++;
        const pe = p.episodes[demo]!;
        assert.deepEqual({ ...e, index: 0 }, { ...pe, index: 0 });
        const a = start(p.episodes, demo) * 7, b = start(r.episodes, i) * 7;
        assert.deepEqual(r.actions.subarray(b, b + e.frames * 7), p.actions.subarray(a, a + pe.frames * 7));
        continue;
      }
      // A copy: its source's pictures and state, frame by frame (cut at most as long), another task.
      const src = r.episodes[e.relabelOf]!;
      assert.equal(src.relabelOf, undefined);
      assert.notDeepEqual(e.task, src.task);
      assert.ok(opts.tasks.includes(e.task.kind as never), e.task.kind);
      assert.ok(e.frames >= 1 && e.frames <= src.frames, `${e.frames} of ${src.frames}`);
      assert.equal(e.success, src.success);
      const a = start(r.episodes, e.relabelOf), b = start(r.episodes, i);
      assert.deepEqual(r.staticRgb.subarray(b * px, (b + e.frames) * px), r.staticRgb.subarray(a * px, (a + e.frames) * px));
      assert.deepEqual(r.proprio.subarray(b * 8, (b + e.frames) * 8), r.proprio.subarray(a * 8, (a + e.frames) * 8));
      for (let f = 0; f < e.frames * 7; f++) if (Math.abs(r.actions[b * 7 + f]! - r.actions[a * 7 + f]!) > 0.05) { differing++; break; }
    }
    assert.equal(demo, 2);
    assert.ok(differing >= 1, 'no copy asks for other actions than its source');
  } finally {
    for (const d of [plain, rel]) rmSync(d, { recursive: true, force: true });
  }
});

test('generate rejects bad options with a message naming the problem', () => {
  assert.throws(() => generateDataset({ out: '/tmp/x', envs: [], episodes: 1, seed: 0 }), /at least one environment/);
  assert.throws(() => generateDataset({ out: '/tmp/x', envs: ['A'], episodes: 0, seed: 0 }), /episodes must be a positive integer, got 0/);
  assert.throws(() => generateDataset({ out: '/tmp/x', envs: ['A'], episodes: 1, seed: 0, noise: 3 }), /noise must be in \[0, 1\], got 3/);
  assert.throws(() => generateDataset({ out: '/tmp/x', envs: ['A'], episodes: 1, seed: 0, staticWidth: 2 }), /staticWidth/);
  assert.throws(() => generateDataset({ out: '/tmp/x', envs: ['A'], episodes: 1, seed: 0, relabel: 1.5 }), /relabel must be a non-negative integer, got 1.5/);
});
