import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Renderer, Rng, TabletopEnv, dims, feasibleTasks, projectPoint, sampleScene, staticCamera, gripperCamera,
  type Box, type Frame, type ObjectState, type Vec3,
} from '../src/index.ts';

/** Pixel extent of the id buffer's pixels with this id. */
function idExtent(f: Frame, id: number): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (let y = 0; y < f.height; y++) for (let x = 0; x < f.width; x++) {
    if (f.ids[y * f.width + x] === id) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1); }
  }
  return x1 > x0 ? { x0, y0, x1, y1 } : null;
}

function blockCorners(o: ObjectState): Vec3[] {
  const d = dims(o), c = Math.cos(o.yaw), s = Math.sin(o.yaw);
  const out: Vec3[] = [];
  for (const sx of [-0.5, 0.5]) for (const sy of [-0.5, 0.5]) for (const z of [0, d.h]) {
    const x = sx * d.lx, y = sy * d.ly;
    out.push([o.pos[0] + c * x - s * y, o.pos[1] + s * x + c * y, o.pos[2] + z]);
  }
  return out;
}

test('rendering is deterministic and both cameras have the configured sizes', () => {
  const s = sampleScene(new Rng(4), { env: 'B', distractors: 3 });
  const a = new Renderer({ staticWidth: 96, staticHeight: 80, gripperWidth: 48, gripperHeight: 40 });
  const v1 = a.render(s);
  const img1 = v1.static.rgb.slice(), g1 = v1.gripper.rgb.slice();
  assert.equal(img1.length, 96 * 80 * 3);
  assert.equal(g1.length, 48 * 40 * 3);
  const v2 = new Renderer({ staticWidth: 96, staticHeight: 80, gripperWidth: 48, gripperHeight: 40 }).render(s);
  assert.deepEqual(v2.static.rgb, img1);
  assert.deepEqual(v2.gripper.rgb, g1);
  assert.throws(() => new Renderer({ staticWidth: 3 }), /staticWidth must be an integer in 8\.\.2048, got 3/);
});

test('scenes differ between environments (table, light, layout)', () => {
  const s = sampleScene(new Rng(1), { env: 'A' });
  const r = new Renderer();
  const a = r.render(s).static.rgb.slice();
  const d = r.render({ ...s, env: 'D' }).static.rgb.slice();
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff += Math.abs((a[i] as number) - (d[i] as number));
  assert.ok(diff / a.length > 10, `mean abs difference ${diff / a.length}`);
});

test('the lamp visibly changes colour when switched on', () => {
  const s = sampleScene(new Rng(2), { env: 'C' });
  const r = new Renderer();
  const off = r.render({ ...s, switchPos: 0 }).static.rgb.slice();
  const on = r.render({ ...s, switchPos: 1 }).static.rgb.slice();
  let changed = 0;
  for (let i = 0; i < off.length; i += 3) if (Math.abs((on[i + 2] as number) - (off[i + 2] as number)) > 40) changed++;
  assert.ok(changed >= 4, `${changed} pixels changed`);
});

test('gaze box of a block equals the box of its projected corners and holds all its pixels', () => {
  let checked = 0;
  for (let seed = 0; seed < 40 && checked < 15; seed++) {
    const env = new TabletopEnv({ env: 'D', distractors: 2 });
    env.reset(seed);
    const spec = feasibleTasks(env.state).find((t) => t.kind === 'lift' && env.state.objects[t.object!]!.shape === 'block');
    if (!spec) continue;
    env.setTask(spec);
    const obs = env.observe();
    const o = env.state.objects[spec.object!]!;
    const cam = staticCamera();
    const pts = blockCorners(o).map((p) => projectPoint(cam, p)!);
    const expect = {
      x0: Math.max(0, Math.floor(Math.min(...pts.map((p) => p[0])))), y0: Math.max(0, Math.floor(Math.min(...pts.map((p) => p[1])))),
      x1: Math.min(128, Math.ceil(Math.max(...pts.map((p) => p[0])))), y1: Math.min(128, Math.ceil(Math.max(...pts.map((p) => p[1])))),
    };
    const box = obs.gaze.static!;
    for (const k of ['x0', 'y0', 'x1', 'y1'] as const) assert.ok(Math.abs(box[k] - expect[k]) <= 1, `seed ${seed} ${k}: ${box[k]} vs ${expect[k]}`);
    // Every pixel the block covers lies in the box, in both cameras.
    const views = new Renderer().render(env.state);
    for (const [frame, b] of [[views.static, obs.gaze.static], [views.gripper, obs.gaze.gripper]] as const) {
      const px = idExtent(frame, o.id);
      if (!px) continue;
      assert.ok(b, 'visible object has a gaze box');
      assert.ok(px.x0 >= b.x0 && px.y0 >= b.y0 && px.x1 <= b.x1 && px.y1 <= b.y1, `pixels ${JSON.stringify(px)} outside box ${JSON.stringify(b)}`);
    }
    checked++;
  }
  assert.ok(checked >= 10);
});

test('after the grasp the gaze moves to the place target', () => {
  for (let seed = 0; seed < 60; seed++) {
    const env = new TabletopEnv({ env: 'A', distractors: 2 });
    env.reset(seed);
    const spec = feasibleTasks(env.state).find((t) => t.kind === 'place_in_bowl');
    if (!spec) continue;
    env.setTask(spec);
    const before = env.observe().gaze.static!;
    const o = env.state.objects[spec.object!]!;
    o.support = 'gripper'; // pretend it is grasped
    env.state.gripper.holding = { kind: 'object', id: o.id, offset: [0, 0, 0], yawOffset: 0 };
    const after = env.observe().gaze.static!;
    const bowl = env.state.objects[spec.target!]!;
    const c = projectPoint(staticCamera(), [bowl.pos[0], bowl.pos[1], 0.01])!;
    assert.notDeepEqual(after, before);
    assert.ok(c[0] >= after.x0 && c[0] <= after.x1 && c[1] >= after.y0 && c[1] <= after.y1, 'bowl centre inside the gaze box');
    return;
  }
  assert.fail('no scene with a place_in_bowl task');
});

test('the drawer task gazes at the handle; the whole box covers the cabinet', () => {
  const env = new TabletopEnv({ env: 'B' });
  for (let seed = 0; seed < 20; seed++) {
    env.reset(seed);
    const spec = feasibleTasks(env.state).find((t) => t.kind === 'open_drawer' || t.kind === 'close_drawer');
    if (!spec) continue;
    env.setTask(spec);
    const obs = env.observe();
    const g = obs.gaze.static!, w = obs.gazeWhole.static!;
    assert.ok(w.x0 <= g.x0 && w.y0 <= g.y0 && w.x1 >= g.x1 && w.y1 >= g.y1);
    assert.ok((w.x1 - w.x0) * (w.y1 - w.y0) > 3 * (g.x1 - g.x0) * (g.y1 - g.y0));
    return;
  }
  assert.fail('no drawer task found');
});

test('the gripper camera looks down at what is under the gripper', () => {
  const s = sampleScene(new Rng(9), { env: 'D' });
  const o = s.objects.find((x) => x.shape !== 'bowl' && x.support === 'table')!;
  s.gripper.pos = [o.pos[0], o.pos[1], 0.1];
  const p = projectPoint(gripperCamera(s.gripper), o.pos)!;
  assert.ok(Math.abs(p[0] - 32) < 1 && Math.abs(p[1] - 32) < 1);
  const f = new Renderer().render(s).gripper;
  assert.equal(f.ids[32 * 64 + 32], o.id);
});
