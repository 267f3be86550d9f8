// The four scenes, A to D. Like CALVIN's environments they share the robot, the objects
// and the camera, and differ in the table's colour and texture, the lighting, and where
// the fixed items (the drawer cabinet and the lamp with its switch) stand. Training on
// A, B, C and testing on D measures generalization to an unseen scene.

export const ENV_NAMES = ['A', 'B', 'C', 'D'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

export type TableTexture = 'planks' | 'checker' | 'plain' | 'grid';

export interface EnvLayout {
  name: EnvName;
  /** Two table colours; the texture alternates between them. */
  table: readonly [readonly [number, number, number], readonly [number, number, number]];
  texture: TableTexture;
  /** Direction *towards* the light (normalized when used), its strength and the ambient term. */
  light: readonly [number, number, number];
  lightColor: readonly [number, number, number];
  ambient: number;
  /** Cabinet centre (x, y) on the table; the drawer slides out towards -y. */
  cabinet: readonly [number, number];
  /** Lamp base centre (x, y); the switch slides along x on top of it. */
  lamp: readonly [number, number];
  background: readonly [number, number, number];
}

export const ENVS: Record<EnvName, EnvLayout> = {
  A: {
    name: 'A',
    table: [[0.62, 0.45, 0.3], [0.55, 0.39, 0.25]],
    texture: 'planks',
    light: [0.4, -0.5, 1],
    lightColor: [1, 0.97, 0.9],
    ambient: 0.42,
    cabinet: [-0.24, 0.2],
    lamp: [0.28, 0.21],
    background: [0.78, 0.8, 0.84],
  },
  B: {
    name: 'B',
    table: [[0.72, 0.72, 0.7], [0.58, 0.58, 0.56]],
    texture: 'checker',
    light: [-0.5, -0.3, 1],
    lightColor: [0.95, 0.97, 1],
    ambient: 0.38,
    cabinet: [0.24, 0.2],
    lamp: [-0.28, 0.21],
    background: [0.7, 0.74, 0.7],
  },
  C: {
    name: 'C',
    table: [[0.42, 0.5, 0.42], [0.4, 0.48, 0.4]],
    texture: 'plain',
    light: [0.1, -0.8, 0.8],
    lightColor: [1, 0.92, 0.85],
    ambient: 0.48,
    cabinet: [-0.04, 0.2],
    lamp: [0.33, 0.05],
    background: [0.82, 0.78, 0.72],
  },
  D: {
    name: 'D',
    table: [[0.36, 0.4, 0.52], [0.3, 0.34, 0.46]],
    texture: 'grid',
    light: [-0.2, 0.3, 1],
    lightColor: [0.95, 0.95, 1],
    ambient: 0.35,
    cabinet: [0.1, 0.2],
    lamp: [-0.33, 0.04],
    background: [0.62, 0.64, 0.7],
  },
};

export function parseEnvName(s: string): EnvName {
  const up = s.trim().toUpperCase();
  if ((ENV_NAMES as readonly string[]).includes(up)) return up as EnvName;
  throw new Error(`unknown environment "${s}": expected one of ${ENV_NAMES.join(', ')}`);
}

/** Parse "A,B,C" into env names, naming the bad entry when there is one. */
export function parseEnvList(s: string): EnvName[] {
  const parts = s.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw new Error(`empty environment list "${s}": expected e.g. A,B,C`);
  return parts.map(parseEnvName);
}
