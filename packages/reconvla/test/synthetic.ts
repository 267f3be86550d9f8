// A tiny deterministic data source and model config for the training tests: small random
// images, a handful of instructions, random states and actions; batch k depends only on
// (seed, k), as a BatchSource must.
import { Rng } from '@reconvla/tabletop';
import { tinyConfigJson, type BatchSource, type HostBatch, type Json, type StageConfig, type TrainConfig } from '../src/index.ts';

export const INSTRUCTIONS = ['lift the red block', 'open the drawer', 'push the blue ball left', 'turn on the lamp'];

export function syntheticSource(opts: { fixed?: boolean; crashAfter?: number } = {}): BatchSource {
  return async function* ({ batchSize, seed, start }): AsyncGenerator<HostBatch> {
    for (let k = start; ; k++) {
      if (opts.crashAfter !== undefined && k >= opts.crashAfter) throw new Error('simulated crash');
      const rng = new Rng(seed * 7919 + (opts.fixed ? 0 : k));
      const img = (size: number) => ({ width: size, height: size, data: Uint8Array.from({ length: size * size * 3 }, () => Math.floor(rng.next() * 256)) });
      const b: HostBatch = { images: [], targets: [], instructions: [], states: [], actions: [] };
      for (let i = 0; i < batchSize; i++) {
        b.images.push(img(32));
        b.targets.push(img(32));
        b.instructions.push(INSTRUCTIONS[i % INSTRUCTIONS.length]!);
        b.states.push(Float32Array.from({ length: 8 }, () => rng.next()));
        b.actions.push(Float32Array.from({ length: 14 }, () => rng.next() * 2 - 1));
      }
      yield b;
    }
  };
}

export function testModelJson(ablation: Parameters<typeof tinyConfigJson>[0]['ablation'] = {}): Json {
  return tinyConfigJson({
    words: ['ball', 'block', 'blue', 'drawer', 'lamp', 'left', 'lift', 'on', 'open', 'push', 'red', 'the', 'turn'],
    stateRange: { min: new Array(8).fill(0), max: new Array(8).fill(1) }, ablation,
  });
}

export function stage(kind: StageConfig['kind'], steps: number, extra: Partial<StageConfig> = {}): StageConfig {
  return {
    name: kind, kind, data: 'synthetic', steps, batchSize: 2, lr: 3e-3, minLr: 3e-3, warmupSteps: 0, weightDecay: 0, maxGradNorm: 1,
    lmLoss: kind === 'finetune', vmLoss: kind !== 'vae', ...extra,
  };
}

export function trainConfig(stages: StageConfig[], model: Json = testModelJson(), extra: Partial<TrainConfig> = {}): TrainConfig {
  return { model, stages, seed: 3, logEvery: 1, checkpointEvery: 1000, keepCheckpoints: 2, ...extra };
}
