// Writing demonstration datasets: the scripted expert (with action noise) solves sampled
// tasks, and every step's two camera frames, action, proprioception, gaze boxes,
// instruction and task are stored in safetensors shards (see docs/tabletop.md).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { solveWithExpert, sampleTask } from './chains.ts';
import { type ObjectSplit } from './catalog.ts';
import { TabletopEnv } from './env.ts';
import { ENVS, type EnvName } from './envs.ts';
import { expertAction } from './expert.ts';
import type { Box } from './image.ts';
import { instructionFor, type Paraphrases } from './language.ts';
import { PROPRIO_DIM, type Observation } from './observation.ts';
import { addNoise } from './policy.ts';
import type { CameraSizes } from './render.ts';
import { checkCameraSizes } from './render.ts';
import { Rng, deriveSeed } from './rng.ts';
import { encodeSafetensors, tensor } from './safetensors.ts';
import { checkSceneOptions, sampleScene } from './scene.ts';
import { TASK_KINDS, beginTask, isSuccess, type ActiveTask, type TaskKind, type TaskSpec } from './tasks.ts';
import type { WorldState } from './world.ts';

export const DATASET_FORMAT = 'reconvla-tabletop/1';

export interface GenerateOptions extends CameraSizes {
  out: string;
  envs: EnvName[];
  episodes: number;
  seed: number;
  /**
   * Std of Gaussian noise on the expert's motion actions (action units, default 0.1). DART
   * (Laskey et al. 2017): the noisy action is executed, the clean expert action is recorded, so
   * the data shows the states a slightly wrong policy reaches and how the expert recovers.
   */
  noise?: number;
  /** Only these task kinds, one kind after another (balanced: episode i asks tasks[i % n]). Default: any feasible task. */
  tasks?: readonly TaskKind[];
  /** Start every recorded episode with the gripper at a random pose (open, holding nothing). Default false. */
  randomStart?: boolean;
  distractors?: number;
  confusers?: number;
  objects?: ObjectSplit;
  /** Step budget per episode (default 300). */
  maxSteps?: number;
  /** Target frames per shard file (default 1024). */
  shardFrames?: number;
  /** Up to this many tasks are done (unrecorded) before the recorded one, for varied start states (default 2). */
  warmupTasks?: number;
  paraphrases?: Paraphrases;
  /**
   * Store every demonstration this many more times, each time asking another task of the same
   * scene (default 0): the same frames, labelled with the clean expert's action, instruction and
   * gaze boxes for that task, cut where it would have succeeded. Instruction relabelling: the
   * same picture needs different actions for different instructions, so a policy trained on it
   * has to read both (which object, and where it is), and the off-path states teach recovery.
   */
  relabel?: number;
  onEpisode?: (done: number, total: number, frames: number) => void;
}

export interface EpisodeInfo {
  /** Index of the episode in the dataset. */
  index: number;
  env: EnvName;
  task: TaskSpec;
  instruction: string;
  /** The demonstration's task succeeded (a relabelled copy: its source demonstration's). */
  success: boolean;
  frames: number;
  /** A relabelled copy: the dataset index of the demonstration whose frames it re-uses. */
  relabelOf?: number;
}

export interface ShardInfo {
  file: string;
  episodes: number;
  frames: number;
}

export interface DatasetIndex {
  format: typeof DATASET_FORMAT;
  seed: number;
  envs: EnvName[];
  episodes: number;
  frames: number;
  cameras: { static: [number, number]; gripper: [number, number] };
  tasks: readonly string[];
  /** The kinds episodes were drawn from (balanced), or null for any feasible task. */
  task_filter: readonly string[] | null;
  /** 'expert': the recorded action is the clean expert action (DART), whatever the noise. */
  labels: 'expert';
  random_start: boolean;
  /** Relabelled copies per demonstration (GenerateOptions.relabel); `episodes` counts them too. */
  relabel: number;
  /** Expert demonstrations (episodes without the relabelled copies). */
  demonstrations: number;
  action_fields: string[];
  proprio_fields: string[];
  noise: number;
  objects: ObjectSplit;
  distractors: number;
  confusers: number;
  shards: ShardInfo[];
}

export function checkGenerateOptions(o: GenerateOptions): void {
  if (!o.out) throw new Error('an output directory is required');
  if (!Array.isArray(o.envs) || o.envs.length === 0) throw new Error('at least one environment is required (e.g. A,B,C)');
  for (const e of o.envs) if (!(e in ENVS)) throw new Error(`unknown environment "${String(e)}": expected one of A, B, C, D`);
  if (!Number.isInteger(o.episodes) || o.episodes < 1) throw new Error(`episodes must be a positive integer, got ${o.episodes}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new Error(`seed must be a non-negative integer, got ${o.seed}`);
  const noise = o.noise ?? 0.1;
  if (!(noise >= 0 && noise <= 1)) throw new Error(`noise must be in [0, 1], got ${noise}`);
  const relabel = o.relabel ?? 0;
  if (!Number.isInteger(relabel) || relabel < 0) throw new Error(`relabel must be a non-negative integer, got ${relabel}`);
  const sf = o.shardFrames ?? 1024;
  if (!Number.isInteger(sf) || sf < 1) throw new Error(`shardFrames must be a positive integer, got ${sf}`);
  if (o.tasks !== undefined && o.tasks.length === 0) throw new Error('tasks: an empty list (omit it for every task)');
  for (const t of o.tasks ?? []) if (!(TASK_KINDS as readonly string[]).includes(t)) throw new Error(`unknown task "${t}": expected one of ${TASK_KINDS.join(', ')}`);
  checkSceneOptions({ env: o.envs[0]!, distractors: o.distractors ?? 2, confusers: o.confusers ?? 0 });
  checkCameraSizes(o);
}

/** One recorded episode, in memory. */
interface Recorded {
  info: EpisodeInfo;
  staticRgb: Uint8Array[];
  gripperRgb: Uint8Array[];
  actions: Float32Array[];
  proprio: Float32Array[];
  gaze: Int32Array[]; // per frame: static x0 y0 x1 y1, gripper, whole static, whole gripper (16)
}

const boxInts = (b: Box | null, out: Int32Array, at: number): void => {
  if (b) { out[at] = b.x0; out[at + 1] = b.y0; out[at + 2] = b.x1; out[at + 3] = b.y1; } else out.fill(-1, at, at + 4);
};

/** The gripper moved to a random pose over the table: open, empty-handed, anywhere it can start from. */
function randomizeGripper(state: WorldState, rng: Rng): void {
  const g = state.gripper;
  if (g.holding) return; // a held object would have to be put down first: keep the pose
  g.pos = [rng.uniform(-0.36, 0.36), rng.uniform(-0.3, 0.14), rng.uniform(0.12, 0.26)]; // above the cabinet (0.11 m)
  g.yaw = rng.uniform(-Math.PI / 2, Math.PI / 2);
  g.opening = 1;
  g.command = 1;
}

/** A task asked of the recorded frames after the fact (see GenerateOptions.relabel). */
interface Relabel {
  task: ActiveTask;
  rec: Recorded;
  /** Still recording: the task has not succeeded yet. */
  open: boolean;
}

/**
 * Up to `n` tasks other than `spec` that could be asked in `state`, drawn from `kinds`, each
 * with its recording started. Fewer when the scene offers fewer.
 */
function relabelTasks(state: WorldState, spec: TaskSpec, kinds: readonly TaskKind[] | undefined, n: number, rng: Rng, o: GenerateOptions, source: EpisodeInfo): Relabel[] {
  const same = (a: TaskSpec, b: TaskSpec): boolean => JSON.stringify(a) === JSON.stringify(b);
  const out: Relabel[] = [];
  for (let tries = 0; out.length < n && tries < 4 * n; tries++) {
    const other = sampleTask(state, rng, undefined, kinds);
    if (!other) break;
    if (same(other, spec) || out.some((r) => same(r.task.spec, other))) continue;
    const instruction = instructionFor(state, other, rng, o.paraphrases ?? 'train');
    out.push({
      task: beginTask(state, other, false),
      open: true,
      rec: { info: { ...source, task: other, instruction, frames: 0, relabelOf: source.index }, staticRgb: [], gripperRgb: [], actions: [], proprio: [], gaze: [] },
    });
  }
  return out;
}

function pushFrame(rec: Recorded, obs: Observation, label: Float32Array): void {
  rec.staticRgb.push(obs.static.rgb);
  rec.gripperRgb.push(obs.gripper.rgb);
  rec.actions.push(label);
  rec.proprio.push(obs.proprio);
  const g = new Int32Array(16);
  boxInts(obs.gaze.static, g, 0); boxInts(obs.gaze.gripper, g, 4); boxInts(obs.gazeWhole.static, g, 8); boxInts(obs.gazeWhole.gripper, g, 12);
  rec.gaze.push(g);
}

/**
 * Record one expert episode, then its relabelled copies (GenerateOptions.relabel; their
 * `info.index` is left to the caller). Deterministic in (options, index); the demonstration
 * itself does not depend on `relabel`.
 */
export function recordEpisode(o: GenerateOptions, index: number): Recorded[] {
  const rng = new Rng(deriveSeed(o.seed, index));
  const relabelRng = new Rng(deriveSeed(deriveSeed(o.seed, index), 0x7e1abe1));
  const envName = o.envs[index % o.envs.length]!;
  const scene = { env: envName, distractors: o.distractors ?? 2, confusers: o.confusers ?? 0, objects: o.objects ?? 'seen' };
  const maxSteps = o.maxSteps ?? 300;
  const noise = o.noise ?? 0.1;
  // Balanced: episode i asks kind tasks[floor(i / envs) % n], so every env sees every kind.
  const only = o.tasks ? [o.tasks[Math.floor(index / o.envs.length) % o.tasks.length]!] : undefined;
  for (let attempt = 0; attempt < 200; attempt++) {
    const state = sampleScene(rng, scene);
    const warm = rng.int((o.warmupTasks ?? 2) + 1);
    let usable = true;
    for (let w = 0; w < warm && usable; w++) {
      const spec = sampleTask(state, rng);
      usable = spec !== null && solveWithExpert(state, spec, maxSteps);
    }
    const spec = usable ? sampleTask(state, rng, undefined, only) : null;
    if (!spec) continue;
    if (o.randomStart) randomizeGripper(state, rng);
    const env = new TabletopEnv({ ...scene, ...o, render: true }, state);
    const task = env.setTask(spec);
    const instruction = instructionFor(env.state, spec, rng, o.paraphrases ?? 'train');
    const rec: Recorded = { info: { index, env: envName, task: spec, instruction, success: false, frames: 0 }, staticRgb: [], gripperRgb: [], actions: [], proprio: [], gaze: [] };
    const relabels = relabelTasks(env.state, spec, o.tasks, o.relabel ?? 0, relabelRng, o, rec.info);
    let obs = env.observe();
    for (let t = 0; t < maxSteps; t++) {
      const label = expertAction(env.state, task);
      pushFrame(rec, obs, label);
      for (const r of relabels) {
        if (!r.open) continue;
        if (isSuccess(env.state, r.task)) { r.open = false; continue; } // that episode would have ended here
        env.task = r.task; // the gaze boxes of the relabelled task; the pictures are the same
        pushFrame(r.rec, { ...env.observe(), static: obs.static, gripper: obs.gripper }, expertAction(env.state, r.task));
        env.task = task;
      }
      const r = env.step(addNoise(label.slice(), noise, rng));
      obs = r.observation;
      if (r.success) { rec.info.success = true; break; }
    }
    rec.info.frames = rec.actions.length;
    const copies = relabels.map((r) => r.rec).filter((c) => c.actions.length > 0);
    for (const c of copies) { c.info.frames = c.actions.length; c.info.success = rec.info.success; }
    return [rec, ...copies];
  }
  throw new Error(`episode ${index}: no feasible ${only ? `"${only[0]}" ` : ''}task found in 200 scenes of env ${envName}`);
}

function concat<T extends Uint8Array | Float32Array | Int32Array>(parts: T[], make: (n: number) => T): T {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = make(n);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function writeShard(path: string, eps: Recorded[], sizes: Required<CameraSizes>): void {
  const frames = eps.reduce((s, e) => s + e.info.frames, 0);
  const starts = new BigInt64Array(eps.length + 1);
  eps.forEach((e, i) => { starts[i + 1] = (starts[i] as bigint) + BigInt(e.info.frames); });
  const gaze = concat(eps.flatMap((e) => e.gaze), (n) => new Int32Array(n));
  const pick = (k: number): Int32Array => {
    const out = new Int32Array(frames * 4);
    for (let f = 0; f < frames; f++) out.set(gaze.subarray(f * 16 + k * 4, f * 16 + k * 4 + 4), f * 4);
    return out;
  };
  const tensors = {
    static_rgb: tensor(concat(eps.flatMap((e) => e.staticRgb), (n) => new Uint8Array(n)), [frames, sizes.staticHeight, sizes.staticWidth, 3]),
    gripper_rgb: tensor(concat(eps.flatMap((e) => e.gripperRgb), (n) => new Uint8Array(n)), [frames, sizes.gripperHeight, sizes.gripperWidth, 3]),
    actions: tensor(concat(eps.flatMap((e) => e.actions), (n) => new Float32Array(n)), [frames, 7]),
    proprio: tensor(concat(eps.flatMap((e) => e.proprio), (n) => new Float32Array(n)), [frames, PROPRIO_DIM]),
    gaze_static: tensor(pick(0), [frames, 4]),
    gaze_gripper: tensor(pick(1), [frames, 4]),
    gaze_whole_static: tensor(pick(2), [frames, 4]),
    gaze_whole_gripper: tensor(pick(3), [frames, 4]),
    episode_start: tensor(starts, [eps.length + 1]),
    episode_task: tensor(Int32Array.from(eps.map((e) => TASK_KINDS.indexOf(e.info.task.kind))), [eps.length]),
    episode_success: tensor(Uint8Array.from(eps.map((e) => (e.info.success ? 1 : 0))), [eps.length]),
  };
  writeFileSync(path, encodeSafetensors(tensors, { format: DATASET_FORMAT, episodes: JSON.stringify(eps.map((e) => e.info)) }));
}

/** Generate a dataset into o.out; returns its index (also written as dataset.json). */
export function generateDataset(o: GenerateOptions): DatasetIndex {
  checkGenerateOptions(o);
  const sizes = checkCameraSizes(o);
  mkdirSync(o.out, { recursive: true });
  const shardFrames = o.shardFrames ?? 1024;
  const index: DatasetIndex = {
    format: DATASET_FORMAT,
    seed: o.seed,
    envs: o.envs,
    episodes: 0,
    frames: 0,
    cameras: { static: [sizes.staticHeight, sizes.staticWidth], gripper: [sizes.gripperHeight, sizes.gripperWidth] },
    tasks: TASK_KINDS,
    task_filter: o.tasks ?? null,
    labels: 'expert',
    random_start: o.randomStart ?? false,
    relabel: o.relabel ?? 0,
    demonstrations: 0,
    action_fields: ['dx', 'dy', 'dz', 'droll', 'dpitch', 'dyaw', 'gripper'],
    proprio_fields: ['x', 'y', 'z', 'roll', 'pitch', 'yaw', 'opening', 'grasping'],
    noise: o.noise ?? 0.1,
    objects: o.objects ?? 'seen',
    distractors: o.distractors ?? 2,
    confusers: o.confusers ?? 0,
    shards: [],
  };
  let pending: Recorded[] = [];
  let pendingFrames = 0;
  const flush = (): void => {
    if (pending.length === 0) return;
    const file = `shard-${String(index.shards.length).padStart(5, '0')}.safetensors`;
    writeShard(join(o.out, file), pending, sizes);
    index.shards.push({ file, episodes: pending.length, frames: pendingFrames });
    pending = [];
    pendingFrames = 0;
  };
  for (let i = 0; i < o.episodes; i++) {
    const [demo, ...copies] = recordEpisode(o, i);
    for (const rec of [demo!, ...copies]) {
      rec.info.index = index.episodes;
      if (rec !== demo) rec.info.relabelOf = demo!.info.index;
      pending.push(rec);
      pendingFrames += rec.info.frames;
      index.episodes++;
      index.frames += rec.info.frames;
    }
    index.demonstrations++;
    if (pendingFrames >= shardFrames) flush();
    o.onEpisode?.(i + 1, o.episodes, index.frames);
  }
  flush();
  writeFileSync(join(o.out, 'dataset.json'), JSON.stringify(index, null, 2) + '\n');
  return index;
}
