// The tabletop adapter: batches from a real (tiny) dataset have the frame, the gaze crop or the
// whole frame as target, the episode's instruction, and chunks that stay inside the episode; a
// source started at batch k yields what the full stream yields at k (what resuming relies on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatasetReader, generateDataset } from '@reconvla/tabletop';
import { Generator, createBackend } from '@reconvla/core';
import { initFromScratch, parseReconVLAConfig, Processor, ReconVLA, teacherForcedAccuracy, tinyConfigJson, WordTokenizer, WORD_SPECIALS, type HostBatch } from '../src/index.ts';
import { datasetAccuracy, datasetInstructions, episodeBatches, tabletopSource, tabletopStateRange, tabletopVocabulary } from '../src/sim/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-sim-'));
generateDataset({ out: dir, envs: ['A', 'B'], episodes: 3, seed: 1, noise: 0 });
const frames = DatasetReader.open(dir).index.frames;

async function take(source: ReturnType<typeof tabletopSource>, batchSize: number, start: number, n: number): Promise<HostBatch[]> {
  const it = source({ batchSize, seed: 4, start });
  const out: HostBatch[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value as HostBatch);
  await it.return?.();
  return out;
}

test('batches: frame, gaze crop or whole frame, instruction, state, action chunk', async () => {
  const [b] = await take(tabletopSource(dir, { cropSize: 32, actionChunk: 3 }), 4, 0, 1);
  assert.equal(b!.images.length, 4);
  for (let i = 0; i < 4; i++) {
    assert.equal(b!.images[i]!.width, 128);
    assert.ok(b!.targets[i]!.width === 32 || b!.targets[i] === b!.images[i], 'a crop, or the frame when the gaze is out of view');
    assert.equal(b!.actions[i]!.length, 21);
    assert.equal(b!.states[i]!.length, 8);
    assert.ok(b!.instructions[i]!.length > 0);
  }
  const [full] = await take(tabletopSource(dir, { cropSize: 32, actionChunk: 1, target: 'full' }), 4, 0, 1);
  assert.ok(full!.targets.every((t, i) => t === full!.images[i]));
});

test('gaze: one box per image, each from its own camera (static, then gripper), null where out of view', async () => {
  const [b] = await take(tabletopSource(dir, { cropSize: 32, actionChunk: 1, views: ['static', 'gripper'] }), 6, 0, 1);
  assert.equal(b!.images.length, 12);
  assert.equal(b!.gaze!.length, 12);
  // Find each sample's frame by its pixels, then compare with the shard's two gaze tables.
  const reader = DatasetReader.open(dir);
  const shards = reader.index.shards.map((_, i) => reader.readShard(i));
  const boxOf = (t: Int32Array, f: number) => (t[f * 4]! >= 0 ? Array.from(t.subarray(f * 4, f * 4 + 4)) : null);
  let gripperInView = 0;
  for (let i = 0; i < 6; i++) {
    const [st, gr] = [b!.images[2 * i]!, b!.images[2 * i + 1]!];
    const matches = shards.flatMap((sh) => Array.from({ length: sh.frames }, (_, f) => f)
      .filter((f) => Buffer.compare(Buffer.from(sh.staticRgb.subarray(f * st.data.length, (f + 1) * st.data.length)), Buffer.from(st.data)) === 0
        && Buffer.compare(Buffer.from(sh.gripperRgb.subarray(f * gr.data.length, (f + 1) * gr.data.length)), Buffer.from(gr.data)) === 0)
      .map((f) => [boxOf(sh.gazeStatic, f), boxOf(sh.gazeGripper, f)]));
    assert.ok(matches.length > 0, `sample ${i}: no frame with these pixels`);
    assert.ok(matches.some((m) => JSON.stringify(m) === JSON.stringify([b!.gaze![2 * i], b!.gaze![2 * i + 1]])), `sample ${i}: boxes ${JSON.stringify(b!.gaze!.slice(2 * i, 2 * i + 2))}`);
    if (b!.gaze![2 * i + 1]) gripperInView++;
  }
  assert.ok(gripperInView > 0, 'no gripper box in view in this batch: the test checks nothing');
});

test('episodeBatches: every usable episode once, its frames in order, in batches of at most maxFrames', () => {
  const reader = DatasetReader.open(dir);
  const eps = [...episodeBatches(dir, { cropSize: 16, actionChunk: 2, maxFrames: 7 })];
  const usable = reader.index.shards.flatMap((_, i) => reader.shardEpisodes(i).filter((e) => e.success || e.actor === 'policy'));
  assert.equal(eps.length, usable.length);
  for (const ep of eps) {
    const shard = reader.readShard(ep.shard);
    const first = shard.frameEpisode.indexOf(ep.episode), count = shard.frameEpisode.filter((e) => e === ep.episode).length;
    assert.equal(ep.frames, count);
    assert.equal(ep.task, shard.episodes[ep.episode]!.task.kind);
    assert.deepEqual(ep.batches.map((b) => b.states.length), Array.from({ length: Math.ceil(count / 7) }, (_, k) => Math.min(7, count - 7 * k)));
    // Frame order: the k-th state is the episode's k-th proprio row; the last frame's chunk repeats its last action.
    const states = ep.batches.flatMap((b) => b.states);
    states.forEach((st, k) => assert.deepEqual([...st], [...shard.proprio.subarray((first + k) * 8, (first + k + 1) * 8)]));
    const lastChunk = ep.batches.at(-1)!.actions.at(-1)!, lastAction = [...shard.actions.subarray((first + count - 1) * 7, (first + count) * 7)];
    assert.deepEqual([...lastChunk], [...lastAction, ...lastAction]);
  }
});

test('datasetAccuracy: per episode, the same numbers in any batch size, and teacherForcedAccuracy\'s on the whole episode', async () => {
  const json = tinyConfigJson({ words: tabletopVocabulary(datasetInstructions(dir)), stateRange: tabletopStateRange() });
  const model = new ReconVLA(parseReconVLAConfig(json), { backend: await createBackend('cpu'), generator: new Generator(3) });
  initFromScratch(model, new Generator(3));
  const whole = await datasetAccuracy(model, dir, 1000), small = await datasetAccuracy(model, dir, 5);
  const eps = [...episodeBatches(dir, { cropSize: 32, actionChunk: model.config.prompt.actionChunk, maxFrames: 1000 })];
  assert.equal(whole.episodes.length, eps.length);
  whole.episodes.forEach((e, i) => {
    const s = small.episodes[i]!;
    assert.deepEqual([s.task, s.frames, s.tokens], [e.task, e.frames, e.tokens]);
    assert.ok(Math.abs(s.exact - e.exact) < 1e-12 && Math.abs(s.mae - e.mae) < 1e-9, `episode ${i}: batches of 5 frames give ${s.exact}/${s.mae}, one batch ${e.exact}/${e.mae}`);
    s.exactByDim.forEach((x, d) => assert.ok(Math.abs(x - e.exactByDim[d]!) < 1e-12));
  });
  const first = await teacherForcedAccuracy(model, new Processor(model.config), eps[0]!.batches[0]!);
  assert.deepEqual([whole.episodes[0]!.exact, whole.episodes[0]!.tokens], [first.exact, first.tokens]);
  assert.ok(Math.abs(whole.episodes[0]!.mae - first.meanAbsError) < 1e-12);
  assert.equal(whole.mae, whole.episodes.reduce((a, e) => a + e.mae, 0) / whole.episodes.length);
});

test('a source started at batch k continues the stream exactly (resume), across passes over the data', async () => {
  const src = tabletopSource(dir, { cropSize: 16, actionChunk: 2 });
  const perPass = Math.floor(frames / 8);
  const all = await take(src, 8, 0, perPass + 2);
  const resumed = await take(src, 8, perPass - 1, 3);
  resumed.forEach((b, i) => {
    const want = all[perPass - 1 + i]!;
    assert.deepEqual(b.instructions, want.instructions);
    assert.deepEqual(b.actions, want.actions);
    assert.deepEqual(b.targets.map((t) => Buffer.from(t.data).toString('base64')), want.targets.map((t) => Buffer.from(t.data).toString('base64')));
  });
});

test('the vocabulary covers every dataset instruction and the held-out paraphrases', () => {
  const words = new WordTokenizer(tabletopVocabulary());
  for (const text of datasetInstructions(dir)) assert.ok(!words.encode(text).includes(WORD_SPECIALS.unk), `unknown word in "${text}"`);
  for (const text of ['hoist the orb into the air', 'stow the beaker in the drawer', 'empty the basin by taking out the box']) {
    assert.ok(!words.encode(text).includes(WORD_SPECIALS.unk), `unknown word in "${text}"`);
  }
});
