// Shared test helpers: small hand-built scenes.
import type { ObjectState, WorldState } from '../src/index.ts';

export function obj(id: number, shape: ObjectState['shape'], color: ObjectState['color'], x: number, y: number, extra: Partial<ObjectState> = {}): ObjectState {
  return { id, shape, color, size: 'small', pos: [x, y, 0], yaw: 0, support: 'table', ...extra };
}

/** Env D, drawer closed, lamp off, gripper open above the middle of the table. */
export function world(objects: ObjectState[], extra: Partial<WorldState> = {}): WorldState {
  return {
    env: 'D',
    step: 0,
    objects,
    gripper: { pos: [0, -0.2, 0.2], yaw: 0, opening: 1, command: 1, holding: null },
    drawer: 0,
    switchPos: 0,
    ...extra,
  };
}
