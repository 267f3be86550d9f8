// A model that must look: trained briefly on data where the right action depends only on the
// image (red frame: +0.9, blue frame: -0.9, same instruction and state), its teacher-forced
// accuracy is high with the real frames and falls to at most chance with black frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Backend } from '@reconvla/core';
import { Rng } from '@reconvla/tabletop';
import { testBackends } from '../../../test/helpers/backends.ts';
import { Processor, teacherForcedAccuracy, Trainer, type BatchSource, type HostBatch } from '../src/index.ts';
import { stage, testModelJson, trainConfig } from './synthetic.ts';

const all = await testBackends();
const backend = (all.find((b) => b.name === 'wasm' && b.backend) ?? all[0]!).backend as Backend;

/** Half the frames red, half blue (with pixel noise); the action sign follows the colour. */
function colourSource(): BatchSource {
  return async function* ({ batchSize, seed, start }): AsyncGenerator<HostBatch> {
    for (let k = start; ; k++) {
      const rng = new Rng(seed * 7919 + k);
      const b: HostBatch = { images: [], targets: [], instructions: [], states: [], actions: [] };
      for (let i = 0; i < batchSize; i++) {
        const red = rng.next() < 0.5;
        const data = Uint8Array.from({ length: 32 * 32 * 3 }, (_, j) => (j % 3 === (red ? 0 : 2) ? 200 : 40) + Math.floor(rng.next() * 30));
        b.images.push({ width: 32, height: 32, data });
        b.targets.push({ width: 32, height: 32, data });
        b.instructions.push('lift the red block');
        b.states.push(new Float32Array(8).fill(0.5));
        b.actions.push(new Float32Array(14).fill(red ? 0.9 : -0.9));
      }
      yield b;
    }
  };
}

test('teacher-forced accuracy drops to chance with black images after training on image-dependent actions', async () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-look-'));
  const json = testModelJson({ recon: false, unfreeze_vision_tower: true });
  const trainer = Trainer.create(trainConfig([stage('finetune', 60, { batchSize: 8, vmLoss: false })], json), { runDir, backend, source: colourSource });
  const model = await trainer.run();
  const batch = (await colourSource()({ batchSize: 32, seed: 99, start: 0 }).next()).value as HostBatch;
  const p = new Processor(model.config);
  const seen = await teacherForcedAccuracy(model, p, batch);
  const blind = await teacherForcedAccuracy(model, p, batch, { image: 'black' });
  assert.equal(seen.tokens, 32 * 14);
  assert.ok(seen.withinTolerance >= 0.9, `with the frames: ${seen.withinTolerance}`);
  // Black frames carry no colour: one answer for all, right for at most about half the batch.
  assert.ok(blind.withinTolerance <= 0.65, `with black frames: ${blind.withinTolerance}`);
  model.dispose();
  fs.rmSync(runDir, { recursive: true, force: true });
});
