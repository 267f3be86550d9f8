import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DRAWER, DRAWER_MAX_OPEN, ENVS, LAMP, MAX_TRANSLATION, WORKSPACE, Rng, drawerHandle, drawerOpenArea, lampOn, sampleScene,
  sanitizeAction, stepWorld, switchKnob, type WorldState,
} from '../src/index.ts';
import { obj, world } from './helpers.ts';

/** Drive the gripper tip to p (straight line, gripper command g) in small steps. */
function moveTo(s: WorldState, p: readonly number[], g: 1 | -1 = 1): void {
  for (let i = 0; i < 200; i++) {
    const d = [0, 1, 2].map((k) => (p[k]! - s.gripper.pos[k]!) / MAX_TRANSLATION);
    if (d.every((v) => Math.abs(v) < 1e-6)) break;
    stepWorld(s, [...d.map((v) => Math.max(-1, Math.min(1, v))), 0, 0, 0, g]);
  }
}
const close = (s: WorldState, n = 4): void => { for (let i = 0; i < n; i++) stepWorld(s, [0, 0, 0, 0, 0, 0, -1]); };
const open = (s: WorldState): void => { stepWorld(s, [0, 0, 0, 0, 0, 0, 1]); };

test('a closing gripper around a block grasps it; the block follows and lands on the table', () => {
  const s = world([obj(0, 'block', 'red', 0.1, -0.1, { yaw: Math.PI / 2 })]);
  moveTo(s, [0.1, -0.1, 0.012]);
  close(s);
  assert.deepEqual(s.gripper.holding && s.gripper.holding.kind, 'object');
  assert.equal(s.objects[0]!.support, 'gripper');
  moveTo(s, [-0.1, 0.0, 0.15], -1);
  assert.ok(Math.abs(s.objects[0]!.pos[0] + 0.1) < 1e-9 && s.objects[0]!.pos[2] > 0.1);
  open(s);
  assert.equal(s.gripper.holding, null);
  assert.equal(s.objects[0]!.support, 'table');
  assert.equal(s.objects[0]!.pos[2], 0);
});

test('a gripper closing beside an object, or already closed, grasps nothing', () => {
  const s = world([obj(0, 'ball', 'red', 0.1, -0.1)]);
  moveTo(s, [0.1, -0.05, 0.012]);
  close(s);
  assert.equal(s.gripper.holding, null);
  const t = world([obj(0, 'ball', 'red', 0.1, -0.1)]);
  close(t);
  moveTo(t, [0.1, -0.1, 0.012], -1);
  close(t);
  assert.equal(t.gripper.holding, null);
});

test('released objects land in bowls, on blocks and in the open drawer', () => {
  const layout = ENVS.D;
  const s = world([obj(0, 'ball', 'red', 0.0, -0.15), obj(1, 'bowl', 'blue', -0.15, -0.1), obj(2, 'block', 'green', 0.15, -0.1), obj(3, 'block', 'red', 0.25, -0.15, { yaw: Math.PI / 2 })], { drawer: DRAWER_MAX_OPEN });
  const carry = (id: number, x: number, y: number): void => {
    const o = s.objects[id]!;
    moveTo(s, [o.pos[0], o.pos[1], 0.25], 1);
    moveTo(s, [o.pos[0], o.pos[1], o.pos[2] + 0.012], 1);
    close(s);
    assert.equal(s.objects[id]!.support, 'gripper', `object ${id} grasped`);
    moveTo(s, [s.gripper.pos[0], s.gripper.pos[1], 0.25], -1);
    moveTo(s, [x, y, 0.25], -1);
    open(s);
  };
  carry(0, -0.15, -0.1);
  assert.equal(s.objects[0]!.support, 1);
  assert.ok(Math.abs(s.objects[0]!.pos[2] - 0.006) < 1e-9);
  carry(3, 0.15, -0.1);
  assert.equal(s.objects[3]!.support, 2);
  assert.ok(Math.abs(s.objects[3]!.pos[2] - 0.034) < 1e-9);
  const a = drawerOpenArea(layout, s.drawer);
  carry(0, (a.x0 + a.x1) / 2, (a.y0 + a.y1) / 2);
  assert.equal(s.objects[0]!.support, 'drawer');
  assert.ok(Math.abs(s.objects[0]!.pos[2] - DRAWER.floor) < 1e-9);
});

test('the drawer handle drags the drawer, and its content moves with it', () => {
  const layout = ENVS.D;
  const s = world([obj(0, 'ball', 'red', 0.0, -0.2)], { drawer: DRAWER_MAX_OPEN });
  const a = drawerOpenArea(layout, DRAWER_MAX_OPEN);
  s.objects[0]!.pos = [(a.x0 + a.x1) / 2, (a.y0 + a.y1) / 2, DRAWER.floor];
  s.objects[0]!.support = 'drawer';
  const y0 = s.objects[0]!.pos[1];
  const h = drawerHandle(layout, s.drawer);
  moveTo(s, [h[0], h[1], 0.2]);
  moveTo(s, h);
  close(s);
  assert.deepEqual(s.gripper.holding?.kind, 'handle');
  moveTo(s, [h[0], h[1] + 0.1, h[2]], -1);
  assert.ok(Math.abs(s.drawer - (DRAWER_MAX_OPEN - 0.1)) < 1e-9);
  assert.ok(Math.abs(s.objects[0]!.pos[1] - (y0 + 0.1)) < 1e-9);
});

test('the switch knob turns the lamp on and off', () => {
  const s = world([]);
  const k = switchKnob(ENVS.D, 0);
  moveTo(s, [k[0], k[1], 0.2]);
  moveTo(s, k);
  close(s);
  assert.ok(!lampOn(s));
  moveTo(s, [k[0] + LAMP.travel, k[1], k[2]], -1);
  assert.equal(s.switchPos, 1);
  assert.ok(lampOn(s));
});

test('a closed gripper pushes an object it runs into', () => {
  const s = world([obj(0, 'block', 'red', 0.0, -0.1)]);
  close(s);
  moveTo(s, [-0.1, -0.1, 0.01], -1);
  moveTo(s, [0.05, -0.1, 0.01], -1);
  assert.ok(s.objects[0]!.pos[0] > 0.05, `pushed to x=${s.objects[0]!.pos[0]}`);
  assert.ok(Math.abs(s.objects[0]!.pos[1] + 0.1) < 1e-9);
});

test('random actions keep the state valid and serializable', () => {
  fc.assert(fc.property(fc.nat(), fc.array(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 }), { minLength: 1, maxLength: 150 }), (seed, actions) => {
    const s = sampleScene(new Rng(seed), { env: 'C' });
    for (const a of actions) stepWorld(s, a);
    const g = s.gripper.pos;
    assert.ok(g[0] >= WORKSPACE.x0 && g[0] <= WORKSPACE.x1 && g[2] >= WORKSPACE.z0 && g[2] <= WORKSPACE.z1);
    assert.ok(s.gripper.opening >= 0 && s.gripper.opening <= 1);
    assert.ok(s.drawer >= 0 && s.drawer <= DRAWER_MAX_OPEN && s.switchPos >= 0 && s.switchPos <= 1);
    for (const o of s.objects) assert.ok(o.pos.every(Number.isFinite) && o.pos[2] >= 0);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
    assert.equal(s.step, actions.length);
  }), { numRuns: 40 });
});

test('malformed actions are rejected with a message naming the problem', () => {
  assert.throws(() => sanitizeAction([0, 0, 0]), /7 components.*got 3/);
  assert.throws(() => sanitizeAction([0, 0, 0, 0, 0, Number.NaN, 0]), /action\[5\] is not a finite number/);
  assert.deepEqual([...sanitizeAction([2, -3, 0, 0, 0, 0, 1])], [1, -1, 0, 0, 0, 0, 1]);
});
