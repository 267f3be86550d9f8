// Captioned random scenes: batch k depends only on (seed, k), images come per view in the model's
// order, captions only use the caption vocabulary, and the randomised states are valid worlds
// (drawer contents slide with the drawer, a held object sits in the fingers and is released by
// the simulator like any other).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cabinetFront, captionVocabulary, DRAWER, DRAWER_MAX_OPEN, ENVS, Rng, stepWorld, WORKSPACE, restingPlace } from '@reconvla/tabletop';
import { randomCaptionScene, sceneCaptionSource, sceneCaptionStage } from '../src/sim/index.ts';
import type { HostBatch } from '../src/index.ts';

async function batchAt(source: ReturnType<typeof sceneCaptionSource>, seed: number, start: number, skip = 0): Promise<HostBatch> {
  const it = source({ batchSize: 3, seed, start });
  for (let i = 0; i < skip; i++) await it.next();
  const b = (await it.next()).value as HostBatch;
  await it.return?.();
  return b;
}

test('batch k is the same whether the stream starts at 0 or at k; views in the model\'s order', async () => {
  const src = sceneCaptionSource({ envs: ['A', 'C'], views: ['gripper', 'static'] });
  const walked = await batchAt(src, 7, 0, 2), direct = await batchAt(src, 7, 2);
  assert.deepEqual(direct.captions, walked.captions);
  assert.equal(direct.images.length, 6);
  direct.images.forEach((img, i) => assert.deepEqual(img.data, walked.images[i]!.data, `image ${i}`));
  assert.deepEqual(direct.images.map((i) => i.width), [64, 128, 64, 128, 64, 128]);
  assert.deepEqual([direct.instructions, direct.targets, direct.states, direct.actions], [[], [], [], []]);
  const other = await batchAt(src, 8, 2);
  assert.notDeepEqual(other.captions, direct.captions);
  const vocab = new Set(captionVocabulary());
  for (const c of direct.captions!) for (const w of c.match(/[a-z]+/g)!) assert.ok(vocab.has(w), `"${w}" in "${c}"`);
  const single = await batchAt(sceneCaptionSource({ envs: ['A'], views: ['static'] }), 7, 0);
  assert.deepEqual(single.images.map((i) => i.width), [128, 128, 128]);
});

test('bad options are named', () => {
  assert.throws(() => sceneCaptionSource({ envs: [], views: ['static'] }), /no environments/);
  assert.throws(() => sceneCaptionSource({ envs: ['A'], views: [] }), /no camera views/);
  assert.throws(() => sceneCaptionSource({ envs: ['A'], views: ['static'], distractors: [3, 9] }), /distractors \[3, 9\]/);
});

test('randomised scenes are valid worlds: drawer contents, the gripper in the workspace, held objects', () => {
  let held = 0, inDrawer = 0, half = 0;
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
    const s = randomCaptionScene(new Rng(seed), { envs: ['A', 'B', 'C', 'D'], holdProb: 0.5 });
    const g = s.gripper;
    assert.ok(s.drawer >= 0 && s.drawer <= DRAWER_MAX_OPEN);
    if (s.drawer > 0 && s.drawer < DRAWER_MAX_OPEN) half++;
    assert.ok(s.switchPos === 0 || s.switchPos === 1);
    assert.ok(g.pos[0] >= WORKSPACE.x0 && g.pos[0] <= WORKSPACE.x1 && g.pos[1] >= WORKSPACE.y0 && g.pos[1] <= WORKSPACE.y1 && g.pos[2] <= WORKSPACE.z1);
    assert.ok(g.opening >= 0 && g.opening <= 1);
    for (const o of s.objects.filter((x) => x.support === 'drawer')) {
      // Where the object sits on the drawer's floor does not depend on how far the drawer is out.
      const inside = o.pos[1] - (cabinetFront(ENVS[s.env]) - s.drawer);
      assert.ok(inside > 0 && inside < DRAWER.d, `drawer object ${inside} m behind the drawer's front`);
      inDrawer++;
    }
    const h = g.holding;
    if (h && h.kind === 'object') {
      held++;
      const o = s.objects[h.id]!;
      assert.equal(o.support, 'gripper');
      assert.deepEqual([o.pos[0], o.pos[1]], [g.pos[0], g.pos[1]]);
      assert.ok(Math.abs(o.pos[2] + (-h.offset[2]) - g.pos[2]) < 1e-12);
      assert.ok(!s.objects.some((p) => p.support === o.id), 'nothing rests on a held object');
      // The simulator handles it like any grasp: opening the fingers drops it onto what is below.
      stepWorld(s, [0, 0, 0, 0, 0, 0, 1]);
      assert.equal(s.gripper.holding, null);
      assert.notEqual(o.support, 'gripper');
      assert.ok(o.pos[2] >= 0 && o.pos[2] < g.pos[2]);
    } else {
      assert.equal(h, null);
      assert.ok(g.pos[2] >= restingPlace(s, { id: -1, shape: 'ball', color: 'white', size: 'small', pos: g.pos, yaw: 0, support: 'gripper' }, g.pos[0], g.pos[1]).z);
    }
  }), { numRuns: 200 });
  assert.ok(held > 50 && inDrawer > 0 && half > 30, `held ${held}, in drawer ${inDrawer}, half-open drawers ${half} of 200`);
});

test('sceneCaptionStage: a vision stage over the given environments with the caption vocabulary', () => {
  const s = sceneCaptionStage(['A', 'B', 'C'], 300);
  assert.deepEqual([s.kind, s.data, s.steps, s.batchSize, s.lmLoss, s.vmLoss], ['vision', 'A,B,C', 300, 32, false, false]);
  assert.deepEqual(s.captionWords, captionVocabulary());
});
