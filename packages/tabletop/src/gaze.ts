// The gaze region: which thing the robot must look at now, and its box in each camera.
//
// For a pick-and-place task that is the object to grasp until it is grasped, then the
// place target (bowl, block, drawer). For the drawer and the lamp it is the handle or the
// switch knob; `whole` gives the whole articulated item instead. Boxes come from the
// projected geometry (every triangle of the thing, clipped to the near plane), so they do
// not shrink when something is in front.
import type { Box } from './image.ts';
import type { Frame } from './raster.ts';
import { ID } from './render.ts';
import type { ActiveTask } from './tasks.ts';
import { objectById, type WorldState } from './world.ts';

export interface GazeIds {
  /** What to act on now. */
  focus: number[];
  /** The whole target (differs from focus only for the drawer and the lamp). */
  whole: number[];
}

const DRAWER_ALL = [ID.cabinet, ID.drawer, ID.handle];
const LAMP_ALL = [ID.lampBase, ID.switchKnob, ID.lamp];

export function gazeIds(s: WorldState, task: ActiveTask | null): GazeIds {
  if (!task) return { focus: [], whole: [] };
  const spec = task.spec;
  switch (spec.kind) {
    case 'open_drawer': case 'close_drawer':
      return { focus: [ID.handle], whole: DRAWER_ALL };
    case 'lamp_on': case 'lamp_off':
      return { focus: [ID.switchKnob], whole: LAMP_ALL };
    default: {
      const o = objectById(s, spec.object!);
      const held = o.support === 'gripper';
      if (held && spec.target !== undefined) return { focus: [spec.target], whole: [spec.target] };
      if (held && spec.kind === 'put_in_drawer') return { focus: [ID.drawer], whole: DRAWER_ALL };
      return { focus: [o.id], whole: [o.id] };
    }
  }
}

/** Union of the projected extents of `ids`, clipped to the frame; null when none is in view. */
export function boxOf(frame: Frame, ids: readonly number[]): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const id of ids) {
    const b = id * 4;
    x0 = Math.min(x0, frame.bounds[b] as number);
    y0 = Math.min(y0, frame.bounds[b + 1] as number);
    x1 = Math.max(x1, frame.bounds[b + 2] as number);
    y1 = Math.max(y1, frame.bounds[b + 3] as number);
  }
  if (!(x1 > x0 && y1 > y0)) return null;
  const box = {
    x0: Math.max(0, Math.floor(x0)),
    y0: Math.max(0, Math.floor(y0)),
    x1: Math.min(frame.width, Math.ceil(x1)),
    y1: Math.min(frame.height, Math.ceil(y1)),
  };
  return box.x1 > box.x0 && box.y1 > box.y0 ? box : null;
}
