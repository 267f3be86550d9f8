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
import { checkSceneOptions, randomFixtures, sampleScene } from './scene.ts';
import { TASK_KINDS, beginTask, isSuccess, type ActiveTask, type TaskKind, type TaskSpec } from './tasks.ts';
import type { Fixtures, WorldState } from './world.ts';

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
  /** Put the cabinet and the lamp of every scene at random positions (scene.ts randomFixtures) instead of the env's. Default false. */
  randomFixtures?: boolean;
  /** Put them at these positions in every scene instead (e.g. another env's: its layout in this env's look). */
  fixtures?: Fixtures;
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
  /** Where the cabinet and the lamp stood, when not where the env puts them (GenerateOptions.randomFixtures or .fixtures). */
  fixtures?: Fixtures;
  /**
   * Who acted: absent for expert demonstrations; 'policy' for a DAgger rollout (dagger.ts), whose
   * frames are the states a policy reached, each labelled with the expert's action there.
   */
  actor?: 'policy';
  /** A DAgger rollout: the step at which the expert took over from a stalled policy, or null. */
  takeover?: number | null;
}

/**
 * Whether an episode's frames are training data: an expert demonstration that succeeded (a failed
 * one shows states the expert itself got stuck in), or any DAgger rollout (its labels are the
 * expert's whatever the policy did; its failures are the point).
 */
export function usableEpisode(ep: EpisodeInfo | undefined): boolean {
  return ep !== undefined && (ep.success || ep.actor === 'policy');
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
  /** The scenes' cabinet and lamp stood at random positions (EpisodeInfo.fixtures); absent: the envs' own. */
  random_fixtures?: true;
  /** Fixed fixture positions of every scene (GenerateOptions.fixtures); absent: the envs' own. */
  fixtures?: Fixtures;
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
  /** DAgger rounds whose rollouts this dataset holds (dagger.ts), oldest first. */
  dagger?: DaggerRound[];
}

/** One round of DAgger rollouts added to a dataset. */
export interface DaggerRound {
  /** The policy that acted (a run or model folder). */
  policy: string;
  /** Seed of the round's episodes (GenerateOptions.seed). */
  seed: number;
  episodes: number;
  frames: number;
  /** Probability that a step executed the expert's (noisy) action instead of the policy's. */
  beta: number;
  /** Steps without motion after which the expert took over (0: never). */
  stall_steps: number;
  /**
   * Steps the policy acted, steps the expert acted, episodes the expert took over, and episodes that
   * succeeded before any takeover (with beta > 0 the expert made some of their steps).
   */
  policy_steps: number;
  expert_steps: number;
  takeovers: number;
  policy_successes: number;
  /** The dataset whose shards (hard links or copies) came first, or null. */
  aggregated_from: string | null;
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
  if (o.randomFixtures && o.fixtures) throw new Error('fixtures: give randomFixtures or fixed fixtures, not both');
  for (const t of o.tasks ?? []) if (!(TASK_KINDS as readonly string[]).includes(t)) throw new Error(`unknown task "${t}": expected one of ${TASK_KINDS.join(', ')}`);
  checkSceneOptions({ env: o.envs[0]!, distractors: o.distractors ?? 2, confusers: o.confusers ?? 0 });
  checkCameraSizes(o);
}

/** One recorded episode, in memory. */
export interface Recorded {
  info: EpisodeInfo;
  staticRgb: Uint8Array[];
  gripperRgb: Uint8Array[];
  actions: Float32Array[];
  proprio: Float32Array[];
  gaze: Int32Array[]; // per frame: static x0 y0 x1 y1, gripper, whole static, whole gripper (16)
}

export const emptyRecording = (info: EpisodeInfo): Recorded => ({ info, staticRgb: [], gripperRgb: [], actions: [], proprio: [], gaze: [] });

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
      rec: emptyRecording({ ...source, task: other, instruction, frames: 0, relabelOf: source.index }),
    });
  }
  return out;
}

export function pushFrame(rec: Recorded, obs: Observation, label: Float32Array): void {
  rec.staticRgb.push(obs.static.rgb);
  rec.gripperRgb.push(obs.gripper.rgb);
  rec.actions.push(label);
  rec.proprio.push(obs.proprio);
  const g = new Int32Array(16);
  boxInts(obs.gaze.static, g, 0); boxInts(obs.gaze.gripper, g, 4); boxInts(obs.gazeWhole.static, g, 8); boxInts(obs.gazeWhole.gripper, g, 12);
  rec.gaze.push(g);
}

/** Where a recorded episode starts: its scene, task and instruction, and the episode's random stream. */
export interface EpisodeStart {
  env: TabletopEnv;
  task: ActiveTask;
  instruction: string;
  /** The episode's random stream, to be used for its action noise next. */
  rng: Rng;
  info: EpisodeInfo;
}

/**
 * The start of episode `index`: a scene of env envs[index % envs], up to `warmupTasks` unrecorded
 * expert tasks for a varied start state, then a task (of kind tasks[floor(index / envs) % n] when
 * o.tasks is given) and, with o.randomStart, a random gripper pose. Deterministic in (o, index).
 */
export function startEpisode(o: GenerateOptions, index: number): EpisodeStart {
  const rng = new Rng(deriveSeed(o.seed, index));
  const envName = o.envs[index % o.envs.length]!;
  // The fixtures from a stream of their own: without randomFixtures every other draw stays as it was.
  const fixtures = o.randomFixtures ? randomFixtures(new Rng(deriveSeed(deriveSeed(o.seed, index), 0xf17e5))) : o.fixtures;
  const scene = { env: envName, distractors: o.distractors ?? 2, confusers: o.confusers ?? 0, objects: o.objects ?? 'seen', ...(fixtures ? { fixtures } : {}) };
  const maxSteps = o.maxSteps ?? 300;
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
    return { env, task, instruction, rng, info: { index, env: envName, task: spec, instruction, success: false, frames: 0, ...(fixtures ? { fixtures } : {}) } };
  }
  throw new Error(`episode ${index}: no feasible ${only ? `"${only[0]}" ` : ''}task found in 200 scenes of env ${envName}`);
}

/**
 * Record one expert episode, then its relabelled copies (GenerateOptions.relabel; their
 * `info.index` is left to the caller). Deterministic in (options, index); the demonstration
 * itself does not depend on `relabel`.
 */
export function recordEpisode(o: GenerateOptions, index: number): Recorded[] {
  const relabelRng = new Rng(deriveSeed(deriveSeed(o.seed, index), 0x7e1abe1));
  const { env, task, rng, info } = startEpisode(o, index);
  const maxSteps = o.maxSteps ?? 300;
  const noise = o.noise ?? 0.1;
  const rec = emptyRecording(info);
  const relabels = relabelTasks(env.state, task.spec, o.tasks, o.relabel ?? 0, relabelRng, o, rec.info);
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

/** The index of an empty dataset written with options `o` (camera sizes checked). */
export function emptyIndex(o: GenerateOptions): DatasetIndex {
  const sizes = checkCameraSizes(o);
  return {
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
    ...(o.randomFixtures ? { random_fixtures: true } : {}), // absent otherwise: older indexes read the same
    ...(o.fixtures ? { fixtures: o.fixtures } : {}),
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
}

/**
 * Appends recorded episodes to `index` and to shard files of about `shardFrames` frames in `out`
 * (numbered after the shards the index already lists). dataset.json is written by `finish`.
 */
export class ShardWriter {
  private pending: Recorded[] = [];
  private pendingFrames = 0;
  private readonly sizes: Required<CameraSizes>;

  constructor(readonly out: string, readonly index: DatasetIndex, private readonly shardFrames: number) {
    const [staticHeight, staticWidth] = index.cameras.static;
    const [gripperHeight, gripperWidth] = index.cameras.gripper;
    this.sizes = { staticHeight, staticWidth, gripperHeight, gripperWidth };
    mkdirSync(out, { recursive: true });
  }

  /** Adds an episode (its info.index becomes its dataset index). */
  add(rec: Recorded): void {
    rec.info.index = this.index.episodes;
    this.pending.push(rec);
    this.pendingFrames += rec.info.frames;
    this.index.episodes++;
    this.index.frames += rec.info.frames;
  }

  /** Writes a shard when enough frames are pending (call between groups that belong together). */
  maybeFlush(): void {
    if (this.pendingFrames >= this.shardFrames) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const file = `shard-${String(this.index.shards.length).padStart(5, '0')}.safetensors`;
    writeShard(join(this.out, file), this.pending, this.sizes);
    this.index.shards.push({ file, episodes: this.pending.length, frames: this.pendingFrames });
    this.pending = [];
    this.pendingFrames = 0;
  }

  /** Writes what is pending and dataset.json; returns the index. */
  finish(): DatasetIndex {
    this.flush();
    writeFileSync(join(this.out, 'dataset.json'), JSON.stringify(this.index, null, 2) + '\n');
    return this.index;
  }
}

/** Generate a dataset into o.out; returns its index (also written as dataset.json). */
export function generateDataset(o: GenerateOptions): DatasetIndex {
  checkGenerateOptions(o);
  const writer = new ShardWriter(o.out, emptyIndex(o), o.shardFrames ?? 1024);
  for (let i = 0; i < o.episodes; i++) {
    const [demo, ...copies] = recordEpisode(o, i);
    writer.add(demo!);
    for (const rec of copies) {
      writer.add(rec);
      rec.info.relabelOf = demo!.info.index;
    }
    writer.index.demonstrations++;
    writer.maybeFlush();
    o.onEpisode?.(i + 1, o.episodes, writer.index.frames);
  }
  return writer.finish();
}
