// What objects exist: shapes, colours, sizes, their dimensions, and which colour/shape
// pairs belong to the training split and which are held out ("unseen objects").

export const SHAPES = ['block', 'ball', 'cup', 'bowl'] as const;
export type Shape = (typeof SHAPES)[number];

export const SIZES = ['small', 'large'] as const;
export type Size = (typeof SIZES)[number];

export const COLORS = ['red', 'green', 'blue', 'yellow', 'orange', 'purple', 'pink', 'cyan', 'white', 'brown'] as const;
export type Color = (typeof COLORS)[number];

/** Linear-ish sRGB albedo in [0, 1]. */
export const COLOR_RGB: Record<Color, readonly [number, number, number]> = {
  red: [0.85, 0.12, 0.1],
  green: [0.15, 0.7, 0.2],
  blue: [0.12, 0.3, 0.9],
  yellow: [0.95, 0.85, 0.1],
  orange: [0.98, 0.5, 0.08],
  purple: [0.55, 0.2, 0.75],
  pink: [0.98, 0.5, 0.7],
  cyan: [0.1, 0.8, 0.85],
  white: [0.92, 0.92, 0.9],
  brown: [0.5, 0.3, 0.14],
};

/**
 * Dimensions in metres. Blocks are cuboids longer along their local x so that a rotation
 * by +45 degrees looks different from one by -45 degrees; the gripper closes across
 * their short side (width = ly).
 */
export interface Dims {
  /** Footprint along the object's local x and y, and height. */
  lx: number;
  ly: number;
  h: number;
  /** Radius of the circle that stands for the footprint in contact and support tests. */
  r: number;
  /** Width the closed fingers meet when grasping. */
  graspWidth: number;
}

export function dimsOf(shape: Shape, size: Size): Dims {
  const big = size === 'large';
  switch (shape) {
    case 'block': {
      const lx = big ? 0.07 : 0.052, ly = big ? 0.042 : 0.034, h = big ? 0.042 : 0.034;
      return { lx, ly, h, r: lx / 2, graspWidth: ly };
    }
    case 'ball': {
      const r = big ? 0.03 : 0.022;
      return { lx: 2 * r, ly: 2 * r, h: 2 * r, r, graspWidth: 2 * r };
    }
    case 'cup': {
      const r = big ? 0.028 : 0.022;
      return { lx: 2 * r, ly: 2 * r, h: big ? 0.066 : 0.052, r, graspWidth: 2 * r };
    }
    case 'bowl': {
      const r = big ? 0.07 : 0.058;
      return { lx: 2 * r, ly: 2 * r, h: big ? 0.038 : 0.032, r, graspWidth: Infinity };
    }
  }
}

/** Bowls are containers: the gripper does not pick them up or push them. */
export function isGraspable(shape: Shape): boolean {
  return shape !== 'bowl';
}

/** Colour/shape pairs the training split never shows (two colours per shape). */
export const UNSEEN_PAIRS: ReadonlyArray<readonly [Shape, Color]> = [
  ['block', 'purple'],
  ['block', 'cyan'],
  ['ball', 'red'],
  ['ball', 'white'],
  ['cup', 'green'],
  ['cup', 'orange'],
  ['bowl', 'yellow'],
  ['bowl', 'pink'],
];

export type ObjectSplit = 'seen' | 'unseen' | 'all';

export function isUnseenPair(shape: Shape, color: Color): boolean {
  return UNSEEN_PAIRS.some(([s, c]) => s === shape && c === color);
}

/** Colours allowed for a shape in a split. */
export function colorsFor(shape: Shape, split: ObjectSplit): Color[] {
  if (split === 'all') return [...COLORS];
  return COLORS.filter((c) => isUnseenPair(shape, c) === (split === 'unseen'));
}
