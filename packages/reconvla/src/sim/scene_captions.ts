// Frames of random scenes with captions: the vision stage's data (SigLIP's image-text loss).
// Each sample is a fresh scene of one of the given environments (sampleScene: the four task
// objects plus 2-6 distractors), its drawer opening, lamp switch and gripper pose (anywhere in
// the workspace, any yaw and opening, sometimes an object between the fingers) drawn at random,
// rendered by the simulator's cameras at the datasets' sizes (static 128x128, gripper 64x64)
// and captioned by the simulator from the state. Batch k is drawn from (seed, k) alone, so
// resuming at batch k needs no skipping and sees exactly the batches of an uninterrupted run.
import {
  captionOf, captionVocabulary, deriveSeed, dims, DRAWER_MAX_OPEN, GAP_CLOSED, GAP_OPEN, insideClosedDrawer, isGraspable,
  Renderer, restingPlace, Rng, sampleScene, WORKSPACE,
  type CameraSizes, type EnvName, type ObjectSplit, type ObjectState, type WorldState,
} from '@reconvla/tabletop';
import type { RgbImage } from '@reconvla/siglip';
import type { CameraView } from '../config.ts';
import type { BatchSource, HostBatch } from '../train/batch.ts';
import { stageDefaults, type StageConfig } from '../train/config.ts';

export interface SceneCaptionOptions {
  /** Environments the scenes are drawn from (one per sample, uniformly). */
  envs: EnvName[];
  /** The model's camera views in order (model.config.views): each sample gives one image per view. */
  views: CameraView[];
  /** Distractors per scene, drawn uniformly in [min, max] (default [2, 6]). */
  distractors?: [number, number];
  /** Which colour/shape pairs (default 'seen': the held-out objects stay unseen). */
  objects?: ObjectSplit;
  /** Probability that the gripper holds an object (default 0.25). */
  holdProb?: number;
  /** Camera sizes (default the datasets': static 128x128, gripper 64x64). */
  cameras?: CameraSizes;
}

/** Objects resting on `o` (directly or not) move with it, as physics.ts moves them. */
function moveWithDependents(state: WorldState, o: ObjectState, dx: number, dy: number, dz: number): void {
  o.pos = [o.pos[0] + dx, o.pos[1] + dy, o.pos[2] + dz];
  for (const d of state.objects) if (d.support === o.id) moveWithDependents(state, d, dx, dy, dz);
}

/** Fully closed, fully open, or anywhere between; what is in the drawer slides with it. */
function randomizeDrawer(state: WorldState, rng: Rng): void {
  const r = rng.next();
  const opening = r < 1 / 3 ? 0 : r < 2 / 3 ? DRAWER_MAX_OPEN : rng.uniform(0, DRAWER_MAX_OPEN);
  const dy = -(opening - state.drawer); // the drawer slides out towards -y
  for (const o of state.objects) if (o.support === 'drawer') moveWithDependents(state, o, 0, dy, 0);
  state.drawer = opening;
}

/** Height of the highest surface under (x, y) for a small probe (the renderer's shadow test). */
function surfaceUnder(state: WorldState, x: number, y: number, skip?: ObjectState): number {
  const probe: ObjectState = skip ?? { id: -1, shape: 'ball', color: 'white', size: 'small', pos: [x, y, 0], yaw: 0, support: 'gripper' };
  return restingPlace(state, probe, x, y).z;
}

/**
 * The gripper anywhere in the workspace (never below what is under it), any yaw and opening;
 * with probability holdProb it holds a graspable object that nothing rests on, centred between
 * its fingers at mid-height, the fingers closed on the object's grasp width as tryGrasp leaves them.
 */
function randomizeGripper(state: WorldState, rng: Rng, holdProb: number): void {
  const g = state.gripper;
  const x = rng.uniform(WORKSPACE.x0, WORKSPACE.x1), y = rng.uniform(WORKSPACE.y0, WORKSPACE.y1);
  const yaw = rng.uniform(-Math.PI, Math.PI);
  const free = state.objects.filter((o) => isGraspable(o.shape) && !insideClosedDrawer(state, o) && !state.objects.some((p) => p.support === o.id));
  const held = free.length > 0 && rng.next() < holdProb ? rng.pick(free) : null;
  if (held) {
    const d = dims(held);
    const z = rng.uniform(Math.min(surfaceUnder(state, x, y, held) + d.h / 2, WORKSPACE.z1), WORKSPACE.z1);
    // A block is held across its short side (local y along the finger axis): yaw = gripper yaw + 90 degrees.
    held.yaw = held.shape === 'block' ? yaw + Math.PI / 2 : 0;
    held.pos = [x, y, z - d.h / 2];
    held.support = 'gripper';
    state.gripper = {
      pos: [x, y, z], yaw, command: -1,
      opening: Math.max(0, (d.graspWidth - GAP_CLOSED) / (GAP_OPEN - GAP_CLOSED)),
      holding: { kind: 'object', id: held.id, offset: [0, 0, -d.h / 2], yawOffset: held.yaw - yaw },
    };
    return;
  }
  const opening = rng.next();
  const z = rng.uniform(Math.min(surfaceUnder(state, x, y) + WORKSPACE.z0, WORKSPACE.z1), WORKSPACE.z1);
  state.gripper = { ...g, pos: [x, y, z], yaw, opening, command: opening >= 0.5 ? 1 : -1, holding: null };
}

/** A random scene with the drawer, the lamp switch and the gripper randomised; a valid world state. */
export function randomCaptionScene(rng: Rng, o: Pick<SceneCaptionOptions, 'envs' | 'distractors' | 'objects' | 'holdProb'>): WorldState {
  const [lo, hi] = o.distractors ?? [2, 6];
  const state = sampleScene(rng, { env: rng.pick(o.envs), distractors: lo + rng.int(hi - lo + 1), objects: o.objects ?? 'seen' });
  randomizeDrawer(state, rng);
  state.switchPos = rng.next() < 0.5 ? 0 : 1;
  randomizeGripper(state, rng, o.holdProb ?? 0.25);
  return state;
}

export function checkSceneCaptionOptions(o: SceneCaptionOptions): void {
  if (o.envs.length === 0) throw new Error('sceneCaptionSource: no environments (e.g. envs: ["A", "B", "C"])');
  if (o.views.length === 0) throw new Error('sceneCaptionSource: no camera views (pass model.config.views)');
  const [lo, hi] = o.distractors ?? [2, 6];
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi < lo || hi > 6) throw new Error(`sceneCaptionSource: distractors [${lo}, ${hi}] must be integers with 0 <= min <= max <= 6`);
}

/** A BatchSource of rendered random scenes (B x views images, sample-major) and their captions. */
export function sceneCaptionSource(o: SceneCaptionOptions): BatchSource {
  checkSceneCaptionOptions(o);
  return async function* batches({ batchSize, seed, start }): AsyncGenerator<HostBatch> {
    const renderer = new Renderer(o.cameras ?? {});
    const copy = (f: { rgb: Uint8Array; width: number; height: number }): RgbImage => ({ data: f.rgb.slice(), width: f.width, height: f.height });
    for (let k = start; ; k++) {
      const rng = new Rng(deriveSeed(seed, k));
      const images: RgbImage[] = [], captions: string[] = [];
      for (let i = 0; i < batchSize; i++) {
        const state = randomCaptionScene(rng, o);
        captions.push(captionOf(state, rng));
        const views = renderer.render(state);
        for (const v of o.views) images.push(copy(v === 'static' ? views.static : views.gripper));
      }
      // A caption batch has no instructions, targets, states or actions (the vision stage needs none).
      yield { images, captions, instructions: [], targets: [], states: [], actions: [] };
    }
  };
}

/**
 * The vision stage over scenes of `envs` (stage.data = "A,B,C"), with the simulator's caption
 * vocabulary: stageDefaults('vision') plus captionWords.
 */
export function sceneCaptionStage(envs: EnvName[], steps: number): StageConfig {
  return { ...stageDefaults('vision', envs.join(','), steps), captionWords: captionVocabulary() };
}
