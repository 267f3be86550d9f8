// A training run: the model config plus stages run one after another, each with its own data,
// losses and optimizer. The ReconVLA recipe is
//   vae       fit the tiny VAE to gaze crops (stands in for the pretrained FLUX VAE upstream
//             loads; it stays frozen afterwards, as upstream's);
//   pretrain  reconstruction pretraining on many scenes: the vm loss alone, teaching the image
//             tokens to carry the gaze region (the paper's large-scale pretraining stage);
//   finetune  the task: lm loss on the action tokens + vm loss (recon off: lm loss only).
// and, before them, optionally
//   locator   (ours) the locator alone (locator.ts), its keypoint 0 pulled to the gaze box centre:
//             many cheap steps of finding the named object before the VLA stages;
//   vision    SigLIP's sigmoid image-text loss on simulator frames and their captions: the tiny
//             random tower learns to see (upstream starts from a pretrained SigLIP); it stays
//             frozen afterwards unless the model's ablation.unfreeze_vision_tower is set.
import type { Json } from '../config.ts';
import type { InitFrom } from './init_from.ts';

export type StageKind = 'vision' | 'locator' | 'vae' | 'pretrain' | 'finetune';

export interface StageConfig {
  name: string;
  kind: StageKind;
  /** Dataset folder (tabletop) this stage reads; for 'vision', the environments of its scenes ("A,B,C"). */
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
  /** The task kinds this stage reads (default: finetune and locator the model's tasks, the others all). */
  tasks?: string[];
  /** vision: the caption words (the text tokenizer's vocabulary, e.g. the tabletop's captionVocabulary()). */
  captionWords?: string[];
  /** vision: overrides of the tiny text tower's config.json (HF text_config keys, see tinyTextConfigJson). */
  textConfig?: Json;
  /** vision: the logit bias b at init (default -10, the paper's; -ln(batch size) is the prior at small batches). */
  logitBiasInit?: number;
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
  /** Parts copied from another run or model folder after the from-scratch init (init_from.ts); a resumed run takes them from its checkpoint. */
  initFrom?: InitFrom;
}

export function stageDefaults(kind: StageKind, data: string, steps: number): StageConfig {
  const base = { name: kind, kind, data, steps, batchSize: 16, minLr: 1e-5, warmupSteps: Math.min(50, Math.ceil(steps / 10)), weightDecay: 0, maxGradNorm: 1 };
  if (kind === 'vision') return { ...base, batchSize: 32, lr: 1e-3, lmLoss: false, vmLoss: false };
  if (kind === 'vae') return { ...base, lr: 2e-3, lmLoss: false, vmLoss: false };
  if (kind === 'locator') return { ...base, batchSize: 64, lr: 1e-3, lmLoss: false, vmLoss: false };
  if (kind === 'pretrain') return { ...base, lr: 1e-3, lmLoss: false, vmLoss: true };
  return { ...base, lr: 1e-3, lmLoss: true, vmLoss: true };
}
