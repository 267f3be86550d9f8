import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HANDLE_YAW, Rng, SAFE_Z, TASK_KINDS, beginTask, drawerHandle, expertAction, layoutOf, switchKnob, feasibleTasks, isSuccess, sampleScene, sampleTask, solveWithExpert, stepWorld,
  taskProblem, type TaskKind, type TaskSpec, type WorldState,
} from '../src/index.ts';
import { obj, world } from './helpers.ts';

/** A scene (from some seed) where a task of this kind can be asked. */
function sceneFor(kind: TaskKind): { s: WorldState; spec: TaskSpec } {
  for (let seed = 0; seed < 2000; seed++) {
    const s = sampleScene(new Rng(seed), { env: (['A', 'B', 'C', 'D'] as const)[seed % 4], distractors: 2, arrangeProb: 0.6 });
    // A warm-up task now and then, to reach states like "object in drawer".
    if (seed % 2 === 1) {
      const w = sampleTask(s, new Rng(seed));
      if (w) solveWithExpert(s, w, 300);
    }
    const spec = feasibleTasks(s).find((t) => t.kind === kind);
    if (spec) return { s, spec };
  }
  throw new Error(`no scene for ${kind}`);
}

test('every task kind: the detector is off at the start and fires once the expert is done', () => {
  assert.ok(TASK_KINDS.length >= 16);
  for (const kind of TASK_KINDS) {
    const { s, spec } = sceneFor(kind);
    const task = beginTask(s, spec);
    assert.equal(isSuccess(s, task), false, `${kind} succeeded before any action`);
    let steps = 0;
    while (!isSuccess(s, task) && steps < 300) { stepWorld(s, expertAction(s, task)); steps++; }
    assert.ok(isSuccess(s, task), `${kind}: expert did not succeed in 300 steps`);
  }
});

test('no feasible task is already solved in the state it is asked in', () => {
  for (let seed = 0; seed < 25; seed++) {
    const s = sampleScene(new Rng(seed), { env: 'D', distractors: 3, arrangeProb: 0.8 });
    for (const spec of feasibleTasks(s)) assert.equal(isSuccess(s, beginTask(s, spec)), false, JSON.stringify(spec));
  }
});

test('push detectors: direction and distance matter', () => {
  const s = world([obj(0, 'block', 'red', 0, -0.1)]);
  const left = beginTask(s, { kind: 'push_left', object: 0 });
  const right = beginTask(s, { kind: 'push_right', object: 0 });
  s.objects[0]!.pos[0] = -0.05;
  assert.equal(isSuccess(s, left), false, '5 cm is not enough');
  s.objects[0]!.pos[0] = -0.07;
  assert.equal(isSuccess(s, left), true);
  assert.equal(isSuccess(s, right), false);
  s.objects[0]!.support = 'gripper';
  assert.equal(isSuccess(s, left), false, 'carried, not pushed');
});

test('place detectors need the object released into the target', () => {
  const s = world([obj(0, 'ball', 'red', 0, -0.1), obj(1, 'bowl', 'blue', 0.2, -0.1), obj(2, 'block', 'red', -0.2, -0.1), obj(3, 'block', 'green', -0.2, 0)]);
  const place = beginTask(s, { kind: 'place_in_bowl', object: 0, target: 1 });
  s.objects[0]!.pos = [0.2, -0.1, 0.05];
  s.objects[0]!.support = 'gripper';
  assert.equal(isSuccess(s, place), false, 'held above the bowl');
  s.objects[0]!.support = 1;
  assert.equal(isSuccess(s, place), true);
  const stack = beginTask(s, { kind: 'stack', object: 2, target: 3 });
  s.objects[2]!.support = 1;
  assert.equal(isSuccess(s, stack), false);
  s.objects[2]!.support = 3;
  assert.equal(isSuccess(s, stack), false, 'resting on block 3 but 10 cm away from its top face');
  s.objects[2]!.pos = [-0.2, 0.005, 0.034];
  assert.equal(isSuccess(s, stack), true);
});

test('rotation and lift detectors', () => {
  const s = world([obj(0, 'block', 'red', 0, -0.1)]);
  const rl = beginTask(s, { kind: 'rotate_left', object: 0 });
  const rr = beginTask(s, { kind: 'rotate_right', object: 0 });
  const lift = beginTask(s, { kind: 'lift', object: 0 });
  s.objects[0]!.yaw = -0.7;
  assert.equal(isSuccess(s, rl), false);
  assert.equal(isSuccess(s, rr), true);
  s.objects[0]!.yaw = 0.7;
  assert.equal(isSuccess(s, rl), true);
  s.objects[0]!.support = 'gripper';
  assert.equal(isSuccess(s, rl), false, 'still held');
  s.objects[0]!.pos[2] = 0.03;
  assert.equal(isSuccess(s, lift), false, 'not high enough');
  s.objects[0]!.pos[2] = 0.06;
  assert.equal(isSuccess(s, lift), true);
});

test('tasks that cannot be asked say why', () => {
  const s = world([obj(0, 'ball', 'red', 0, -0.1), obj(1, 'bowl', 'blue', 0.2, -0.1)]);
  assert.match(taskProblem(s, { kind: 'close_drawer' })!, /drawer is not open/);
  assert.match(taskProblem(s, { kind: 'lamp_off' })!, /already off/);
  assert.match(taskProblem(s, { kind: 'lift', object: 1 })!, /bowl, which cannot be grasped/);
  assert.match(taskProblem(s, { kind: 'lift', object: 7 })!, /no object with id 7/);
  assert.match(taskProblem(s, { kind: 'place_in_bowl', object: 0 })!, /needs a target/);
  assert.match(taskProblem(s, { kind: 'stack', object: 0, target: 1 })!, /two blocks/);
  assert.throws(() => beginTask(s, { kind: 'take_from_drawer', object: 0 }), /cannot start: object 0 is not in the drawer/);
});

test('the expert turns to the same fixed yaw for a handle from either side of the home yaw (no tie where evaluations start)', () => {
  for (const kind of ['open_drawer', 'close_drawer', 'lamp_on', 'lamp_off'] as const) {
    const { s, spec } = sceneFor(kind);
    const want = kind.endsWith('drawer') ? HANDLE_YAW.drawer : HANDLE_YAW.switch;
    for (const yaw of [-0.01, 0, 0.01, -1.5, 1.5]) {
      const state = structuredClone(s);
      state.gripper.yaw = yaw;
      state.gripper.holding = null;
      const dyaw = expertAction(state, beginTask(state, spec))[5]!;
      // The first turn heads for `want` from every start (0 when already there, the sign of the gap otherwise).
      const gap = want - yaw;
      assert.ok(Math.abs(gap) < 1e-9 ? dyaw === 0 : Math.sign(dyaw) === Math.sign(gap), `${kind} from yaw ${yaw}: dyaw ${dyaw}, want towards ${want}`);
    }
  }
});

test('the expert closes on a handle from within a centimetre, and comes down while closing in', () => {
  for (const kind of ['open_drawer', 'lamp_on'] as const) {
    const { s, spec } = sceneFor(kind);
    const layout = layoutOf(s);
    const handle = kind === 'open_drawer' ? drawerHandle(layout, s.drawer) : switchKnob(layout, s.switchPos);
    const yaw = kind === 'open_drawer' ? HANDLE_YAW.drawer : HANDLE_YAW.switch;
    const at = (dx: number, dz: number, dyaw: number): Float32Array => {
      const state = structuredClone(s);
      Object.assign(state.gripper, { pos: [handle[0] + dx, handle[1], handle[2] + dz], yaw: yaw + dyaw, opening: 1, command: 1, holding: null });
      return expertAction(state, beginTask(state, spec));
    };
    // 8 mm off, 5 mm high, 0.1 rad turned: inside what the fingers catch, so close (it used to insist on 6 mm and 0.04 rad).
    assert.equal(at(0.008, 0.005, 0.1)[6], -1, `${kind}: close from 8 mm`);
    assert.equal(at(0.02, 0, 0)[6], 1, `${kind}: 2 cm off is not there yet`);
    // 4 cm away at the safe height: already on the way down (it used to fly level until 12 mm).
    const a = at(0.04, SAFE_Z - handle[2], 0);
    assert.ok(a[2]! < -0.5 && a[0]! < -0.9, `${kind}: from 4 cm and high, dx ${a[0]} dz ${a[2]}`);
    // The descent is a funnel: at most FUNNEL_SLOPE (2) x the xy distance left above the handle.
    const b = at(0.03, 0.02, 0);
    assert.ok(Math.abs(b[2]!) < 1e-6 || b[2]! > 0, `${kind}: 2 cm above at 3 cm out is on the funnel (dz ${b[2]})`);
  }
});
