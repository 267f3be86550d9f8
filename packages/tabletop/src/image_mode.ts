// Image ablations: does the policy use its cameras at all? `black` shows it zeros; `shuffled`
// shows it real pictures of the wrong moment (the previous episode's frames, replayed), so a
// policy that only follows proprioception and the instruction scores the same under both as
// under `normal`, and a policy that looks drops.
import { TabletopEnv } from './env.ts';
import { expertAction } from './expert.ts';
import type { CameraImage, Observation } from './observation.ts';
import type { Policy, ResetInfo } from './policy.ts';
import { sampleTask } from './chains.ts';
import { Rng, deriveSeed } from './rng.ts';

export const IMAGE_MODES = ['normal', 'black', 'shuffled'] as const;
export type ImageMode = (typeof IMAGE_MODES)[number];

/** The two camera images of one observation. */
interface Frame {
  static: CameraImage;
  gripper: CameraImage;
}

/** Steps of the expert episode shown during the first episode of `shuffled` (it has no previous one). */
const UNRELATED_STEPS = 300;

/**
 * `policy` seeing other camera images: 'normal' (unchanged), 'black' (zeros of the same size)
 * or 'shuffled' (the previous episode's images in order, cycling; during the first episode,
 * those of an expert episode in an unrelated scene drawn from `seed`). Proprioception, gaze
 * boxes and everything else pass through; reset() is forwarded and marks a new episode.
 */
export function withImageMode(policy: Policy, mode: ImageMode, seed = 0): Policy {
  if (!(IMAGE_MODES as readonly string[]).includes(mode)) throw new Error(`unknown image mode "${String(mode)}": expected ${IMAGE_MODES.join(', ')}`);
  if (mode === 'normal') return policy;
  const replay = mode === 'shuffled' ? new Replay(seed) : null;
  const wrapped = (obs: Observation, instruction: string): ReturnType<Policy> =>
    policy({ ...obs, ...(replay ? replay.next(obs) : black(obs)) }, instruction);
  return Object.assign(wrapped, {
    reset: async (info: ResetInfo): Promise<void> => {
      replay?.newEpisode();
      await policy.reset?.(info);
    },
  });
}

const zeros = (img: CameraImage): CameraImage => ({ width: img.width, height: img.height, rgb: new Uint8Array(img.rgb.length) });

function black(obs: Observation): Frame {
  return { static: zeros(obs.static), gripper: zeros(obs.gripper) };
}

/** Keeps this episode's frames and hands out the previous episode's. */
class Replay {
  private previous: Frame[] = [];
  private current: Frame[] = [];
  private cursor = 0;

  constructor(private readonly seed: number) {}

  newEpisode(): void {
    if (this.current.length > 0) this.previous = this.current;
    this.current = [];
    this.cursor = 0;
  }

  next(obs: Observation): Frame {
    this.current.push({ static: obs.static, gripper: obs.gripper });
    if (this.previous.length === 0) this.previous = unrelatedEpisode(obs, this.seed);
    const f = this.previous[this.cursor++ % this.previous.length]!;
    for (const view of ['static', 'gripper'] as const) {
      const a = f[view], b = obs[view];
      if (a.width !== b.width || a.height !== b.height || a.rgb.length !== b.rgb.length) {
        throw new Error(`shuffled images: the ${view} camera changed from ${a.width}x${a.height} (${a.rgb.length} bytes) ` +
          `to ${b.width}x${b.height} (${b.rgb.length} bytes) between episodes`);
      }
    }
    return f;
  }
}

/**
 * Frames of the noise-free expert doing a task in a scene drawn from `seed` (salted, so it is
 * no scene of the evaluation), in the observation's environment and at its camera sizes.
 */
function unrelatedEpisode(obs: Observation, seed: number): Frame[] {
  const env = new TabletopEnv({
    env: obs.privileged.state.env,
    staticWidth: obs.static.width, staticHeight: obs.static.height, gripperWidth: obs.gripper.width, gripperHeight: obs.gripper.height,
    render: obs.static.rgb.length > 0,
  });
  let o = env.reset(deriveSeed(seed ^ 0x6a09e667, 0));
  const frames: Frame[] = [{ static: o.static, gripper: o.gripper }];
  const spec = sampleTask(env.state, new Rng(deriveSeed(seed ^ 0x6a09e667, 1)));
  if (!spec) return frames;
  const task = env.setTask(spec);
  for (let t = 1; t < UNRELATED_STEPS; t++) {
    const r = env.step(expertAction(env.state, task));
    o = r.observation;
    frames.push({ static: o.static, gripper: o.gripper });
    if (r.success) break;
  }
  return frames;
}
