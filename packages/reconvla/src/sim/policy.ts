// ReconVLA as a tabletop Policy: the static camera frame, the instruction and the proprio state
// become a generation prompt; the predicted chunk of action_chunk actions is executed one per
// step before the model is asked again (upstream's action chunking), and reset() drops what is
// left of a chunk when a new task begins.
import type { Observation, Policy } from '@reconvla/tabletop';
import type { RgbImage } from '@reconvla/siglip';
import type { CameraView } from '../config.ts';
import { predictActions, type ActionDecoding } from '../inference/predict.ts';
import type { ReconVLA } from '../model.ts';
import { groundingOf, Processor } from '../processor.ts';

export interface PolicyOptions {
  /** Execute only the first n actions of each chunk (default: all). */
  executeSteps?: number;
  /** Called with every model query (timing, debugging). */
  onPredict?: (ms: number) => void;
  /** How bin probabilities become an action value (see predict.ts; default 'argmax', upstream's). */
  decoding?: ActionDecoding;
  /**
   * Explicit grounding only, where its box centres come from: the model's own answer ('model', the
   * default); the locator's keypoint for the static view ('locator', the rest the model's); or the
   * true gaze boxes of the simulator ('oracle', obs.gaze: a diagnostic, not a policy, that tells a
   * localisation failure from an acting one).
   */
  grounding?: GroundingSource;
}

export type GroundingSource = 'model' | 'locator' | 'oracle';

export function reconvlaPolicy(model: ReconVLA, opts: PolicyOptions = {}): Policy {
  const processor = new Processor(model.config);
  const { actionChunk, actionDim } = model.config.prompt;
  const execute = Math.min(opts.executeSteps ?? actionChunk, actionChunk);
  const g = model.config.prompt.groundingTokens, source = opts.grounding ?? 'model';
  if (source !== 'model' && g === 0) throw new Error(`reconvlaPolicy: grounding from "${source}" needs a model with explicit grounding (prompt.grounding_tokens > 0)`);
  if (source === 'locator' && !model.locator) throw new Error('reconvlaPolicy: grounding from "locator" needs a model with a locator (config "locator")');
  let queue: Float32Array[] = [];
  const policy = async (obs: Observation, instruction: string): Promise<Float32Array> => {
    if (queue.length === 0) {
      const t0 = performance.now();
      const { actions } = await predictActions(model, processor, {
        images: observationViews(obs, model.config.views), instruction, state: obs.proprio,
      }, opts.decoding ?? 'argmax', source === 'oracle' ? trueGrounding(obs, model.config.views).slice(0, g) : source === 'locator' ? 'locator' : undefined);
      opts.onPredict?.(performance.now() - t0);
      for (let k = 0; k < execute; k++) queue.push(actions.slice(k * actionDim, (k + 1) * actionDim));
    }
    return queue.shift()!;
  };
  return Object.assign(policy, { reset: () => { queue = []; } });
}

/** The gaze box centre in each of the views, in order, as the grounding tokens name it (NaN out of view). */
export function trueGrounding(obs: Observation, views: readonly CameraView[]): number[] {
  return views.flatMap((v) => {
    const box = obs.gaze[v], cam = obs[v];
    return box ? groundingOf([box.x0, box.y0, box.x1, box.y1], cam.width, cam.height) : [NaN, NaN];
  });
}

/** The observation's camera images for the model's views, in order. */
export function observationViews(obs: Observation, views: readonly CameraView[]): RgbImage[] {
  return views.map((v) => {
    const cam = obs[v];
    return { data: cam.rgb, width: cam.width, height: cam.height };
  });
}
