// The place detectors are geometric: place_in_bowl needs the object's whole footprint inside
// the rim (centre within r_bowl - r_object), stack needs the top block's centre over the base's
// top face. Checked on hand-placed states and on objects that physics lets fall from the
// gripper at random offsets: an object whose centre is outside the rim never counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { beginTask, dims, isSuccess, stepWorld, type ObjectState, type WorldState } from '../src/index.ts';
import { obj, world } from './helpers.ts';

const BOWL_AT: [number, number] = [0.05, -0.1];
const size = fc.constantFrom('small' as const, 'large' as const);
const placeable = fc.constantFrom('ball' as const, 'cup' as const, 'block' as const);
const angle = fc.double({ min: -Math.PI, max: Math.PI, noNaN: true });

/** A scene with a bowl (id 1) and the object (id 0) at `at`, resting on `support`. */
function bowlScene(shape: ObjectState['shape'], objSize: 'small' | 'large', bowlSize: 'small' | 'large', at: [number, number, number], support: ObjectState['support']): WorldState {
  return world([
    obj(0, shape, 'red', at[0], at[1], { size: objSize, pos: at, support }),
    obj(1, 'bowl', 'blue', BOWL_AT[0], BOWL_AT[1], { size: bowlSize }),
  ]);
}

/** Puts object 0 in the gripper with its centre over (x, y), then opens the gripper: physics decides where it lands. */
function dropAt(s: WorldState, x: number, y: number, yaw = 0): void {
  const o = s.objects[0]!;
  o.pos = [x, y, 0.12];
  o.yaw = yaw;
  o.support = 'gripper';
  s.gripper = { pos: [x, y, 0.12 + 0.3 * dims(o).h], yaw, opening: 0.2, command: -1, holding: { kind: 'object', id: 0, offset: [0, 0, -0.3 * dims(o).h], yawOffset: 0 } };
  stepWorld(s, [0, 0, 0, 0, 0, 0, 1]);
}

test('place_in_bowl: an object resting on the bowl counts exactly when its centre is within the rim minus its radius', () => {
  fc.assert(fc.property(placeable, size, size, fc.double({ min: 0, max: 0.15, noNaN: true }), angle, (shape, objSize, bowlSize, d, a) => {
    const s = bowlScene(shape, objSize, bowlSize, [BOWL_AT[0] + d * Math.cos(a), BOWL_AT[1] + d * Math.sin(a), 0.006], 1);
    const task = beginTask(world([...s.objects.map((o) => ({ ...o, support: 'table' as const, pos: [o.pos[0] + 0.3, o.pos[1], 0] as [number, number, number] }))]), { kind: 'place_in_bowl', object: 0, target: 1 });
    const inside = d <= dims(s.objects[1]!).r - dims(s.objects[0]!).r;
    assert.equal(isSuccess(s, task), inside, `d ${d.toFixed(4)}, bowl r ${dims(s.objects[1]!).r}, object r ${dims(s.objects[0]!).r}`);
    if (d > dims(s.objects[1]!).r) assert.equal(isSuccess(s, task), false, 'centre outside the rim');
  }), { numRuns: 400 });
});

test('place_in_bowl after a real drop: success only with the footprint inside the rim, never with the centre outside it', () => {
  let counted = 0, refused = 0;
  fc.assert(fc.property(placeable, size, size, fc.double({ min: 0, max: 0.12, noNaN: true }), angle, (shape, objSize, bowlSize, d, a) => {
    const s = bowlScene(shape, objSize, bowlSize, [0.3, -0.1, 0], 'table');
    const task = beginTask(s, { kind: 'place_in_bowl', object: 0, target: 1 });
    dropAt(s, BOWL_AT[0] + d * Math.cos(a), BOWL_AT[1] + d * Math.sin(a));
    const o = s.objects[0]!, bowl = s.objects[1]!;
    const centre = Math.hypot(o.pos[0] - bowl.pos[0], o.pos[1] - bowl.pos[1]);
    const ok = isSuccess(s, task);
    if (ok) { counted++; assert.ok(centre <= dims(bowl).r - dims(o).r, `counted with the centre ${centre.toFixed(4)} from the bowl's`); }
    else refused++;
    if (centre > dims(bowl).r) assert.equal(ok, false, 'centre outside the rim');
    if (o.support === 1 && centre > dims(bowl).r - dims(o).r) assert.equal(ok, false, 'on the rim is not in the bowl');
  }), { numRuns: 400 });
  assert.ok(counted > 0 && refused > 0, `both outcomes seen (${counted} in, ${refused} not)`);
});

const block = (id: number, x: number, y: number, extra: Partial<ObjectState> = {}): ObjectState => obj(id, 'block', id === 0 ? 'red' : 'green', x, y, extra);

test('stack: a block resting on another counts exactly when its centre is over the base\'s top face', () => {
  fc.assert(fc.property(size, size, angle, fc.double({ min: -0.07, max: 0.07, noNaN: true }), fc.double({ min: -0.05, max: 0.05, noNaN: true }), (topSize, baseSize, yaw, u, v) => {
    const base = block(1, 0, -0.1, { size: baseSize, yaw });
    const c = Math.cos(yaw), sn = Math.sin(yaw);
    const top = block(0, u * c - v * sn, -0.1 + u * sn + v * c, { size: topSize, support: 1 });
    top.pos[2] = dims(base).h;
    const s = world([top, base]);
    const task = beginTask(world([block(0, 0.2, -0.1, { size: topSize }), block(1, 0, -0.1, { size: baseSize, yaw })]), { kind: 'stack', object: 0, target: 1 });
    const over = Math.abs(u) <= dims(base).lx / 2 && Math.abs(v) <= dims(base).ly / 2;
    assert.equal(isSuccess(s, task), over, `offset (${u.toFixed(4)}, ${v.toFixed(4)}) in the base's frame`);
  }), { numRuns: 400 });
});

test('stack after a real drop: success only with the centre over the top face', () => {
  let counted = 0, refused = 0;
  fc.assert(fc.property(size, size, angle, fc.double({ min: 0, max: 0.08, noNaN: true }), angle, (topSize, baseSize, baseYaw, d, a) => {
    const s = world([block(0, 0.25, -0.1, { size: topSize }), block(1, 0, -0.1, { size: baseSize, yaw: baseYaw })]);
    const task = beginTask(s, { kind: 'stack', object: 0, target: 1 });
    dropAt(s, d * Math.cos(a), -0.1 + d * Math.sin(a), baseYaw);
    const o = s.objects[0]!, base = s.objects[1]!;
    const c = Math.cos(base.yaw), sn = Math.sin(base.yaw), rx = o.pos[0] - base.pos[0], ry = o.pos[1] - base.pos[1];
    const over = Math.abs(rx * c + ry * sn) <= dims(base).lx / 2 && Math.abs(-rx * sn + ry * c) <= dims(base).ly / 2;
    const ok = isSuccess(s, task);
    if (ok) counted++; else refused++;
    assert.ok(!ok || over, `counted with the centre off the top face (${rx.toFixed(4)}, ${ry.toFixed(4)})`);
    assert.equal(ok, over && o.support === 1);
  }), { numRuns: 400 });
  assert.ok(counted > 0 && refused > 0, `both outcomes seen (${counted} on top, ${refused} not)`);
});
