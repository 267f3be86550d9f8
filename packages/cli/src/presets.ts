// The recipes `reconvla demo --preset NAME` runs end to end: which demonstrations to write, which
// model and stages to train, and how to evaluate. Numbers here are what docs/reconvla.md reports
// measurements for; change them together.
import type { EnvName, ObjectSplit, Paraphrases, TaskKind } from '@reconvla/tabletop';

export interface Preset {
  name: string;
  description: string;
  /** randomFixtures: every scene's cabinet and lamp at random positions (not the env's). */
  data: { envs: EnvName[]; tasks: TaskKind[] | null; episodes: number; noise: number; randomStart: boolean; relabel: number; randomFixtures?: boolean };
  /**
   * denoiserRepeat: noise draws per sample in the diffusion loss (upstream 4); grounding: explicit
   * grounding (not upstream's) in no view (false), the first ('first') or every view ('all').
   */
  model: { views: ('static' | 'gripper')[]; stateEncoding: 'bins' | 'linear' | 'fourier'; chunk: number; unfreezeVision: boolean; denoiserRepeat: number; llmWidth: number; llmLayers: number; actionBins: number; patchSize: number; grounding: false | 'first' | 'all' };
  stages: { vision: number; vae: number; pretrain: number; finetune: number; batchSize: number; lr: number };
  /** paraphrases: the instruction sets evaluated (the acceptance reads 'train'); blackEnv: where the cameras are blanked once more. */
  eval: { envs: EnvName[]; paraphrases: Paraphrases[]; objects: ObjectSplit[]; chains: number; perTask: number; maxSteps: number; blackEnv: EnvName | null };
}

/** Four fixture tasks and three object tasks, so the model must find objects, not only fixtures. */
export const DEMO_TASKS: TaskKind[] = ['open_drawer', 'close_drawer', 'lamp_on', 'lamp_off', 'lift', 'push_left', 'push_right'];

/** Two views, Fourier state, 64 bins, the tower trained, the answer naming the gaze box centres first. */
const DEMO_MODEL: Preset['model'] = { views: ['static', 'gripper'], stateEncoding: 'fourier', chunk: 1, unfreezeVision: true, denoiserRepeat: 1, llmWidth: 64, llmLayers: 2, actionBins: 64, patchSize: 8, grounding: 'all' };

export const PRESETS: Record<string, Preset> = {
  demo: {
    name: 'demo',
    description: `7 tasks (${DEMO_TASKS.join(', ')}) on A,B,C; evaluated on new scenes of A,B,C and on D; ~12 min on 2 cores`,
    data: { envs: ['A', 'B', 'C'], tasks: DEMO_TASKS, episodes: 1400, noise: 0.15, randomStart: true, relabel: 0 },
    model: DEMO_MODEL,
    stages: { vision: 0, vae: 100, pretrain: 100, finetune: 6500, batchSize: 16, lr: 1e-3 },
    eval: { envs: ['A', 'B', 'C', 'D'], paraphrases: ['train'], objects: ['seen'], chains: 20, perTask: 0, maxSteps: 120, blackEnv: 'D' },
  },
  experiment: {
    name: 'experiment',
    description: 'all 17 tasks on A,B,C (200 demonstrations each), the demo\'s model, 16,000 fine-tuning steps; evaluated on new scenes of A,B,C and on D with both instruction sets and object splits (resumable; ~30 min on 2 cores)',
    data: { envs: ['A', 'B', 'C'], tasks: null, episodes: 3400, noise: 0.15, randomStart: true, relabel: 0 },
    model: DEMO_MODEL,
    stages: { vision: 0, vae: 150, pretrain: 300, finetune: 16000, batchSize: 16, lr: 1e-3 },
    eval: { envs: ['A', 'B', 'C', 'D'], paraphrases: ['train', 'heldout'], objects: ['seen', 'unseen'], chains: 20, perTask: 0, maxSteps: 200, blackEnv: 'D' },
  },
};

/** The demo on training scenes whose cabinet and lamp stand anywhere (D's layout is then not new; its look is). */
PRESETS['demo-rf'] = {
  ...PRESETS.demo!,
  name: 'demo-rf',
  description: `the demo with every training scene's cabinet and lamp at random positions (--random-fixtures); evaluated like the demo`,
  data: { ...PRESETS.demo!.data, randomFixtures: true },
};

/** The whole pipeline in about a minute, for tests: the same stages, a handful of steps and episodes. */
PRESETS.smoke = {
  name: 'smoke',
  description: 'every stage for a few steps (tests the pipeline, learns nothing)',
  data: { envs: ['A', 'B'], tasks: ['lamp_on', 'lift'], episodes: 4, noise: 0.15, randomStart: true, relabel: 0 },
  model: { ...PRESETS.demo!.model },
  stages: { vision: 2, vae: 2, pretrain: 2, finetune: 3, batchSize: 4, lr: 1e-3 },
  eval: { envs: ['A', 'D'], paraphrases: ['train'], objects: ['seen'], chains: 1, perTask: 0, maxSteps: 3, blackEnv: 'D' },
};

export function presetNamed(name: string): Preset {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown preset "${name}": expected one of ${Object.keys(PRESETS).join(', ')}`);
  return p;
}

/**
 * The recipes of `reconvla experiment`: the model and stages every variant starts from (`base`,
 * a demo preset), the evaluation every run gets (chains on one unseen environment with both
 * instruction sets and both object splits), the frames of the attention and reconstruction
 * pictures, and the rates the time estimate uses.
 */
export interface ExperimentPreset {
  name: string;
  description: string;
  base: Preset;
  /** Seed of the demonstrations (the same for every variant and seed). */
  dataSeed: number;
  eval: { env: EnvName; chains: number; maxSteps: number; paraphrases: Paraphrases[]; objects: ObjectSplit[]; seed: number };
  /** Frames of env `eval.env` for the pictures: episodes written, frames drawn, and the draw's seed. */
  frames: { episodes: number; count: number; seed: number };
  /** Demonstrations per env for the teacher-forced held-out measure: env `eval.env`, then each training env (seeds dataSeed + 2, + 3, ...). */
  heldout: { episodes: number };
  /** Seconds per training step and per policy call, and per run outside both (loading, pictures). */
  estimate: { secondsPerStep: number; secondsPerCall: number; overheadSeconds: number; measured: string };
}

const ABLATION: ExperimentPreset = {
  name: 'ablation',
  description: 'the demo preset (7 tasks on A,B,C) without explicit grounding, 9,000 fine-tuning steps per run; 10 chains on D per instruction set x object split',
  // Without the demo's explicit grounding: the ablation compares ReconVLA's implicit grounding variants.
  base: { ...PRESETS.demo!, name: 'ablation', model: { ...PRESETS.demo!.model, grounding: false }, stages: { ...PRESETS.demo!.stages, finetune: 9000 } },
  dataSeed: 0,
  eval: { env: 'D', chains: 10, maxSteps: 120, paraphrases: ['train', 'heldout'], objects: ['seen', 'unseen'], seed: 2000 },
  frames: { episodes: 8, count: 4, seed: 7 },
  heldout: { episodes: 100 },
  estimate: { secondsPerStep: 0.065, secondsPerCall: 0.005, overheadSeconds: 60, measured: 'wasm, 58-64 ms per demo-preset step, 4.2-4.9 ms per policy call (demo9 and exp9, ninth session)' },
};

export const EXPERIMENT_PRESETS: Record<string, ExperimentPreset> = {
  ablation: ABLATION,
  // D's look stays new, its layout does not: what the ablation runs showed was missing (docs/results.md).
  'ablation-rf': {
    ...ABLATION,
    name: 'ablation-rf',
    description: 'the ablation preset with every training scene\'s cabinet and lamp at random positions (env D\'s layout lies inside their range; its look stays unseen)',
    base: { ...ABLATION.base, name: 'ablation-rf', data: { ...ABLATION.base.data, randomFixtures: true } },
    estimate: { ...ABLATION.estimate, measured: 'as the ablation preset (the same model and steps)' },
  },
  smoke: {
    name: 'smoke',
    description: 'every stage and picture for a few steps (tests the experiment, learns nothing)',
    base: PRESETS.smoke!,
    dataSeed: 0,
    eval: { env: 'D', chains: 1, maxSteps: 3, paraphrases: ['train', 'heldout'], objects: ['seen', 'unseen'], seed: 2000 },
    frames: { episodes: 2, count: 2, seed: 7 },
    heldout: { episodes: 2 },
    estimate: { secondsPerStep: 0.25, secondsPerCall: 0.015, overheadSeconds: 10, measured: 'wasm, smoke steps' },
  },
};

export function experimentPresetNamed(name: string): ExperimentPreset {
  const p = EXPERIMENT_PRESETS[name];
  if (!p) throw new Error(`unknown experiment preset "${name}": expected one of ${Object.keys(EXPERIMENT_PRESETS).join(', ')}`);
  return p;
}
