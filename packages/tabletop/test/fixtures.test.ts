// Randomised fixtures: the cabinet and the lamp away from where the env puts them. The draw
// covers the four envs' layouts, never overlaps the two items, and a dataset made with it records
// where they stood, puts the gaze (and the expert) there, and leaves every other dataset as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DatasetReader, ENVS, ENV_NAMES, Rng, fixtureFootprints, generateDataset, layoutOf, randomFixtures, sampleScene, type Fixtures } from '../src/index.ts';

const inRange = (f: Fixtures): boolean => {
  const [cx, cy] = f.cabinet, [lx, ly] = f.lamp;
  return cx >= -0.26 && cx <= 0.26 && cy === 0.2 && Math.abs(lx) >= 0.26 && Math.abs(lx) <= 0.34 && ly >= 0.04 && ly <= 0.21;
};

test('randomFixtures: inside the ranges, the lamp across from the cabinet, the two never overlap; the four envs lie inside', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
    const f = randomFixtures(new Rng(seed));
    assert.ok(inRange(f), JSON.stringify(f));
    assert.ok(Math.sign(f.lamp[0]) !== Math.sign(f.cabinet[0]) || f.cabinet[0] === 0);
    const [c, l] = fixtureFootprints({ ...ENVS.A, ...f });
    assert.ok(c!.x1 < l!.x0 || l!.x1 < c!.x0, `footprints overlap: ${JSON.stringify(f)}`);
  }), { numRuns: 300 });
  for (const e of ENV_NAMES) assert.ok(inRange(ENVS[e]), `env ${e}'s layout is inside the range`);
});

test('layoutOf: the env\'s layout, with a scene\'s own fixtures where it has them', () => {
  const f: Fixtures = { cabinet: [0.01, 0.2], lamp: [-0.3, 0.1] };
  const scene = sampleScene(new Rng(3), { env: 'B', fixtures: f });
  assert.deepEqual(scene.fixtures, f);
  assert.deepEqual({ ...layoutOf(scene), cabinet: ENVS.B.cabinet, lamp: ENVS.B.lamp }, ENVS.B, 'the look stays the env\'s');
  assert.deepEqual([layoutOf(scene).cabinet, layoutOf(scene).lamp], [f.cabinet, f.lamp]);
  // No object stands where the moved cabinet or lamp does.
  for (const o of scene.objects) {
    for (const r of fixtureFootprints(layoutOf(scene))) assert.ok(!(o.pos[0] > r.x0 && o.pos[0] < r.x1 && o.pos[1] > r.y0 && o.pos[1] < r.y1), `object ${o.id} inside a fixture`);
  }
  const plain = sampleScene(new Rng(3), { env: 'B' });
  assert.ok(!('fixtures' in plain), 'a scene without them has no fixtures key');
  assert.equal(layoutOf(plain), ENVS.B);
});

test('generateDataset --random-fixtures: each episode records its fixtures, the expert succeeds there, the drawer\'s gaze box follows the cabinet', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabletop-fixtures-'));
  const plain = mkdtempSync(join(tmpdir(), 'tabletop-fixtures-'));
  try {
    const o = { envs: ['A' as const], episodes: 8, seed: 5, noise: 0, tasks: ['open_drawer' as const, 'lamp_on' as const], staticWidth: 64, staticHeight: 64, gripperWidth: 32, gripperHeight: 32 };
    const index = generateDataset({ ...o, out: dir, randomFixtures: true });
    assert.equal(index.random_fixtures, true);
    const r = DatasetReader.open(dir);
    const eps = r.index.shards.flatMap((_, i) => r.shardEpisodes(i));
    assert.equal(eps.length, 8);
    for (const e of eps) {
      assert.ok(e.fixtures && inRange(e.fixtures), `episode ${e.index} records its fixtures`);
      assert.ok(e.success, `the expert completes ${e.task.kind} with the fixtures moved (episode ${e.index})`);
    }
    assert.equal(new Set(eps.map((e) => e.fixtures!.cabinet[0])).size, 8, 'every episode its own draw');
    // The first frame's gaze box of each open_drawer episode: its centre moves with the cabinet.
    assert.equal(r.index.shards.length, 1);
    const shard = r.readShard(0), g = shard.gazeStatic;
    const drawer = shard.episodes.flatMap((e, k) => {
      if (e.task.kind !== 'open_drawer') return [];
      const f = shard.frameEpisode.indexOf(k);
      return [{ x: e.fixtures!.cabinet[0], box: (g[f * 4]! + g[f * 4 + 2]!) / 2 }];
    }).sort((a, b) => a.x - b.x);
    assert.ok(drawer.length >= 3);
    for (let i = 1; i < drawer.length; i++) assert.ok(drawer[i]!.box >= drawer[i - 1]!.box, `gaze box centres in the cabinets' order: ${JSON.stringify(drawer)}`);
    assert.ok(drawer.at(-1)!.box - drawer[0]!.box > 5, 'and they move by pixels');

    // Without the option: no fixtures anywhere, dataset.json as before.
    generateDataset({ ...o, out: plain });
    const json = JSON.parse(readFileSync(join(plain, 'dataset.json'), 'utf8')) as Record<string, unknown>;
    assert.ok(!('random_fixtures' in json));
    const pr = DatasetReader.open(plain);
    assert.ok(pr.index.shards.flatMap((_, i) => pr.shardEpisodes(i)).every((e) => !('fixtures' in e)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(plain, { recursive: true, force: true });
  }
});

test('generateDataset with fixed fixtures: another env\'s layout in this env\'s look, in every episode; not together with randomFixtures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tabletop-fixtures-'));
  try {
    const fixtures: Fixtures = { cabinet: ENVS.A.cabinet, lamp: ENVS.A.lamp };
    const o = { out: dir, envs: ['D' as const], episodes: 4, seed: 2, noise: 0, tasks: ['close_drawer' as const, 'lamp_off' as const], staticWidth: 48, staticHeight: 48, gripperWidth: 24, gripperHeight: 24 };
    assert.throws(() => generateDataset({ ...o, fixtures, randomFixtures: true }), /randomFixtures or fixed fixtures, not both/);
    const index = generateDataset({ ...o, fixtures });
    assert.deepEqual(index.fixtures, fixtures);
    const r = DatasetReader.open(dir);
    const eps = r.index.shards.flatMap((_, i) => r.shardEpisodes(i));
    assert.equal(eps.length, 4);
    for (const e of eps) {
      assert.deepEqual(e.fixtures, fixtures);
      assert.ok(e.success, `the expert completes ${e.task.kind} at A's fixtures in D`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
