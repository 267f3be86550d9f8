// Training checkpoints, written so that a crash at any point leaves the last good one usable:
// each checkpoint is a folder written under a temporary name and renamed when complete, and
// `latest.json` (replaced atomically by rename) names the newest complete folder. A folder holds
//   model.safetensors      every parameter and buffer (frozen parts too: ours are trained or random)
//   optimizer.safetensors  AdamW state (flattenOptimizerState) + the scheduler in the metadata
//   auxiliary.safetensors  what a stage trains outside ReconVLA (the vision stage's text tower,
//                          heads, t' and b), when it has any
//   config.json            the model config
//   state.json             stage, step, RNG state, data cursor, the train config
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromSafetensors, openCheckpoint, optim, saveSafetensors, writeJsonAtomic, type Backend, type Tensor } from '@reconvla/core';
import type { TrainConfig } from './config.ts';

export interface TrainState {
  /** Index of the stage being run, and steps done in it. */
  stage: number;
  stageStep: number;
  globalStep: number;
  /** The step generator's state (diffusion t, noise, posterior samples). */
  rng: { key: number; counter: number };
  scheduler: { lastStep: number; baseLrs: number[] };
  train: TrainConfig;
  /** The model config.json (with anything fixed during training, e.g. the vocabulary). */
  modelConfig: Record<string, unknown>;
}

export interface CheckpointContents {
  state: TrainState;
  model: Map<string, Tensor>;
  optimizer: optim.OptimizerStateDict | null;
  /** Parameters the current stage trains that are not ReconVLA's (null: none). */
  auxiliary: Map<string, Tensor> | null;
}

/** Called between the files of a checkpoint; tests throw from it to simulate a crash. */
export type WriteHook = (file: string) => void;

const folderName = (step: number): string => `step-${String(step).padStart(7, '0')}`;

export async function writeCheckpoint(dir: string, c: CheckpointContents, keep = 2, hook?: WriteHook): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const name = folderName(c.state.globalStep);
  const tmp = path.join(dir, `.tmp-${name}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  await saveSafetensors(path.join(tmp, 'model.safetensors'), c.model);
  hook?.('model.safetensors');
  if (c.optimizer) {
    const { tensors, metadata } = optim.flattenOptimizerState(c.optimizer);
    await saveSafetensors(path.join(tmp, 'optimizer.safetensors'), tensors, { metadata });
  }
  hook?.('optimizer.safetensors');
  if (c.auxiliary) {
    await saveSafetensors(path.join(tmp, 'auxiliary.safetensors'), c.auxiliary);
    hook?.('auxiliary.safetensors');
  }
  writeJsonAtomic(path.join(tmp, 'config.json'), c.state.modelConfig);
  writeJsonAtomic(path.join(tmp, 'state.json'), c.state);
  hook?.('state.json');
  const final = path.join(dir, name);
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  hook?.('rename');
  writeJsonAtomic(path.join(dir, 'latest.json'), { checkpoint: name, globalStep: c.state.globalStep });
  const old = fs.readdirSync(dir).filter((f) => /^step-\d+$/.test(f)).sort().slice(0, -keep);
  for (const f of old) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  return final;
}

/** The newest complete checkpoint folder, or null. */
export function latestCheckpoint(dir: string): string | null {
  const p = path.join(dir, 'latest.json');
  if (!fs.existsSync(p)) return null;
  const { checkpoint } = JSON.parse(fs.readFileSync(p, 'utf8')) as { checkpoint: string };
  return path.join(dir, checkpoint);
}

/** With `auxiliary` (the trainer resuming), also the stage's auxiliary parameters; else those stay on disk. */
export function readCheckpoint(folder: string, backend: Backend, opts: { auxiliary?: boolean } = {}): CheckpointContents {
  const state = JSON.parse(fs.readFileSync(path.join(folder, 'state.json'), 'utf8')) as TrainState;
  const model = fromSafetensors(path.join(folder, 'model.safetensors'), { backend });
  let optimizer: optim.OptimizerStateDict | null = null;
  const optPath = path.join(folder, 'optimizer.safetensors');
  if (fs.existsSync(optPath)) {
    const file = openCheckpoint(optPath);
    const meta = { ...file.metadata };
    file.close();
    optimizer = optim.unflattenOptimizerState(fromSafetensors(optPath, { backend }), meta);
  }
  const auxPath = path.join(folder, 'auxiliary.safetensors');
  const auxiliary = opts.auxiliary && fs.existsSync(auxPath) ? fromSafetensors(auxPath, { backend }) : null;
  return { state, model, optimizer, auxiliary };
}
