// A training run: the model config plus stages run one after another, each with its own data,
// losses and optimizer. The ReconVLA recipe is
//   vae       fit the tiny VAE to gaze crops (stands in for the pretrained FLUX VAE upstream
//             loads; it stays frozen afterwards, as upstream's);
//   pretrain  reconstruction pretraining on many scenes: the vm loss alone, teaching the image
//             tokens to carry the gaze region (the paper's large-scale pretraining stage);
//   finetune  the task: lm loss on the action tokens + vm loss (recon off: lm loss only).
import type { Json } from '../config.ts';

export type StageKind = 'vae' | 'pretrain' | 'finetune';

export interface StageConfig {
  name: string;
  kind: StageKind;
  /** Dataset folder (tabletop) this stage reads. */
  data: string;
  steps: number;
  batchSize: number;
  lr: number;
  minLr: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Action loss on (finetune default) or off (pretrain default). */
  lmLoss: boolean;
  /** Reconstruction loss (default on unless the model's ablation turns recon off). */
  vmLoss: boolean;
}

export interface TrainConfig {
  /** The model's config.json (nested ReconVLA config). */
  model: Json;
  stages: StageConfig[];
  seed: number;
  logEvery: number;
  /** Steps between checkpoints (and one at the end of every stage). */
  checkpointEvery: number;
  /** Checkpoints kept on disk (the newest). */
  keepCheckpoints: number;
}

export function stageDefaults(kind: StageKind, data: string, steps: number): StageConfig {
  const base = { name: kind, kind, data, steps, batchSize: 16, minLr: 1e-5, warmupSteps: Math.min(50, Math.ceil(steps / 10)), weightDecay: 0, maxGradNorm: 1 };
  if (kind === 'vae') return { ...base, lr: 2e-3, lmLoss: false, vmLoss: false };
  if (kind === 'pretrain') return { ...base, lr: 1e-3, lmLoss: false, vmLoss: true };
  return { ...base, lr: 1e-3, lmLoss: true, vmLoss: true };
}
