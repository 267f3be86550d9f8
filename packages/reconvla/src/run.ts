// A run folder as the trainer writes it: train.json, log.jsonl, checkpoints/, and model/ (the
// final model, in the pretrained layout) once every stage is done. loadRun takes the final
// model, or the newest checkpoint of an unfinished run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tidy, type Backend } from '@reconvla/core';
import { parseReconVLAConfig } from './config.ts';
import { ReconVLA } from './model.ts';
import { loadPretrained } from './pretrained.ts';
import { latestCheckpoint, readCheckpoint } from './train/checkpoint.ts';
import type { TrainConfig } from './train/config.ts';

export function loadRun(runDir: string, backend: Backend): { model: ReconVLA; train: TrainConfig | null; from: string } {
  const trainPath = path.join(runDir, 'train.json');
  const train = fs.existsSync(trainPath) ? (JSON.parse(fs.readFileSync(trainPath, 'utf8')) as TrainConfig) : null;
  const final = path.join(runDir, 'model');
  if (fs.existsSync(path.join(final, 'model.safetensors'))) return { model: loadPretrained(final, { backend }), train, from: final };
  const latest = latestCheckpoint(path.join(runDir, 'checkpoints'));
  if (!latest) throw new Error(`${runDir}: no model/ and no checkpoint (train one with \`reconvla train\`)`);
  const ck = readCheckpoint(latest, backend);
  const model = new ReconVLA(parseReconVLAConfig(ck.state.modelConfig), { backend });
  tidy(() => { model.loadStateDict(ck.model); for (const t of ck.model.values()) t.dispose(); });
  for (const e of ck.optimizer?.state.values() ?? []) for (const v of Object.values(e)) if (typeof v !== 'number') v.dispose();
  return { model, train: ck.state.train, from: latest };
}
