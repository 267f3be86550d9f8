// The recipes `reconvla demo --preset NAME` runs end to end: which demonstrations to write, which
// model and stages to train, and how to evaluate. Numbers here are what docs/reconvla.md reports
// measurements for; change them together.
import type { EnvName, TaskKind } from '@reconvla/tabletop';

export interface Preset {
  name: string;
  description: string;
  data: { envs: EnvName[]; tasks: TaskKind[] | null; episodes: number; noise: number; randomStart: boolean };
  /** denoiserRepeat: noise draws per sample in the diffusion loss (upstream 4). */
  model: { views: ('static' | 'gripper')[]; stateEncoding: 'bins' | 'linear' | 'fourier'; chunk: number; unfreezeVision: boolean; denoiserRepeat: number; llmWidth: number; llmLayers: number; actionBins: number };
  stages: { vision: number; vae: number; pretrain: number; finetune: number; batchSize: number; lr: number };
  eval: { envs: EnvName[]; chains: number; perTask: number; maxSteps: number; blackEnv: EnvName | null };
}

/** Three fixture tasks and three object tasks, so the model must find objects, not only fixtures. */
export const DEMO_TASKS: TaskKind[] = ['open_drawer', 'close_drawer', 'lamp_on', 'lamp_off', 'lift', 'push_left', 'push_right'];

export const PRESETS: Record<string, Preset> = {
  demo: {
    name: 'demo',
    description: `7 tasks (${DEMO_TASKS.join(', ')}) on A,B,C; evaluated on new scenes of A,B,C and on D; ~12 min on 2 cores`,
    data: { envs: ['A', 'B', 'C'], tasks: DEMO_TASKS, episodes: 420, noise: 0.15, randomStart: true },
    model: { views: ['static', 'gripper'], stateEncoding: 'fourier', chunk: 1, unfreezeVision: true, denoiserRepeat: 1, llmWidth: 64, llmLayers: 2, actionBins: 64 },
    stages: { vision: 0, vae: 100, pretrain: 100, finetune: 2000, batchSize: 16, lr: 1e-3 },
    eval: { envs: ['A', 'B', 'C', 'D'], chains: 10, perTask: 0, maxSteps: 120, blackEnv: 'D' },
  },
  experiment: {
    name: 'experiment',
    description: 'all 17 tasks on A,B,C, evaluated on new scenes of A,B,C and on D (resumable; not yet run end to end: ~12,000 steps at ~0.2 s, about 45 min of training on 2 cores)',
    data: { envs: ['A', 'B', 'C'], tasks: null, episodes: 1700, noise: 0.15, randomStart: true },
    model: { views: ['static', 'gripper'], stateEncoding: 'fourier', chunk: 1, unfreezeVision: true, denoiserRepeat: 1, llmWidth: 64, llmLayers: 2, actionBins: 64 },
    stages: { vision: 0, vae: 150, pretrain: 300, finetune: 12000, batchSize: 16, lr: 1e-3 },
    eval: { envs: ['A', 'B', 'C', 'D'], chains: 20, perTask: 0, maxSteps: 200, blackEnv: 'D' },
  },
};

/** The whole pipeline in about a minute, for tests: the same stages, a handful of steps and episodes. */
PRESETS.smoke = {
  name: 'smoke',
  description: 'every stage for a few steps (tests the pipeline, learns nothing)',
  data: { envs: ['A', 'B'], tasks: ['lamp_on', 'lift'], episodes: 4, noise: 0.15, randomStart: true },
  model: { ...PRESETS.demo!.model },
  stages: { vision: 2, vae: 2, pretrain: 2, finetune: 3, batchSize: 4, lr: 1e-3 },
  eval: { envs: ['A', 'D'], chains: 1, perTask: 0, maxSteps: 3, blackEnv: 'D' },
};

export function presetNamed(name: string): Preset {
  const p = PRESETS[name];
  if (!p) throw new Error(`unknown preset "${name}": expected one of ${Object.keys(PRESETS).join(', ')}`);
  return p;
}
