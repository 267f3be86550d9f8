// Memory stays flat: a fine-tuning run (lm and vm losses, logging and checkpoints included) on
// each backend holds as many live tensors (Tensor.liveCount: created and not disposed, so a
// leak that the garbage collector's finalizer would clean up later shows too), live storages
// and bytes after warm-up as at its end, and so do the
// WebGPU buffers (live and pooled) and the wasm heap (bytes in use, the bump pointer, the
// memory's size). A leak of one tensor per step would show as growth proportional to the steps.
// The model is the tiny test model made smaller still (LLM width 32 and one layer, narrower
// tower, VAE and denoiser, one noise draw, 32 action bins, batch 1) so that 200 steps take
// seconds; WebGPU on lavapipe runs 100.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor, type Backend, type WasmBackend } from '@reconvla/core';
import { testBackends } from '../../../test/helpers/backends.ts';
import { tinyConfigJson, Trainer, type Json } from '../src/index.ts';
import { stage, syntheticSource, trainConfig } from './synthetic.ts';

const WARMUP = 30;

const tiny = tinyConfigJson({
  words: ['ball', 'block', 'blue', 'drawer', 'lamp', 'left', 'lift', 'on', 'open', 'push', 'red', 'the', 'turn'],
  stateRange: { min: new Array(8).fill(0), max: new Array(8).fill(1) },
  llmWidth: 32, llmLayers: 1, denoiserRepeat: 1, nBins: 32,
});
// Narrower vision tower, VAE and denoiser: the same modules and step, half the time on the CPU.
const modelJson: Json = {
  ...tiny, mm_hidden_size: 16,
  vision_config: { ...tiny.vision_config as Json, hidden_size: 16, intermediate_size: 32, num_attention_heads: 2 },
  vae_config: { ...tiny.vae_config as Json, block_out_channels: [8, 8], norm_num_groups: 4 },
  denoiser_config: { ...tiny.denoiser_config as Json, embed_dim: 32, depth: 1, num_heads: 2 },
};

/** What is measured after every step. */
type Sample = Record<string, number>;

function measure(backend: Backend): Sample {
  const m = backend.memory();
  const s: Sample = { 'live tensors': Tensor.liveCount, 'live storages': m.liveStorages, 'live bytes': m.liveBytes };
  if (backend.name === 'webgpu') s['WebGPU buffer bytes (live + pooled)'] = m.liveBytes + (m.pooledBytes ?? 0);
  if (backend.name === 'wasm') {
    const heap = (backend as WasmBackend).rt.heap;
    s['wasm heap used bytes'] = heap.usedBytes;
    s['wasm heap bump pointer'] = heap.usedBytes + heap.pooledBytes;
    s['wasm memory bytes'] = heap.byteLength;
  }
  return s;
}

/** Allowed growth past the warm-up: a constant, never proportional to the steps. */
const slack = (key: string): number => (key.startsWith('live') && !key.endsWith('bytes') ? 2 : 64 * 1024);

for (const b of await testBackends()) {
  const steps = b.name === 'webgpu' ? 100 : 200;
  test(`${b.name}: ${steps} training steps hold memory flat after warm-up (live tensors, storages, bytes, GPU buffers, wasm heap)`, { skip: b.skip }, async () => {
    const backend = b.backend!;
    const before = backend.memory().liveStorages;
    const samples: Sample[] = [];
    const cfg = trainConfig([stage('finetune', steps, { batchSize: 1 })], modelJson, { checkpointEvery: 25, logEvery: 10, keepCheckpoints: 1 });
    const trainer = Trainer.create(cfg, {
      runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-memory-')), backend, source: () => syntheticSource(), signals: false,
      onStep: () => { samples.push(measure(backend)); },
    });
    await trainer.run();
    trainer.model.dispose();
    assert.equal(samples.length, steps);
    const base = samples[WARMUP - 1]!;
    for (const key of Object.keys(base)) {
      const series = samples.slice(WARMUP - 1).map((s) => s[key]!);
      const peak = Math.max(...series);
      const trace = [WARMUP, WARMUP + Math.floor((steps - WARMUP) / 2), steps].map((k) => `step ${k}: ${samples[k - 1]![key]}`).join(', ');
      assert.ok(peak <= base[key]! + slack(key), `${b.name}: ${key} grows after warm-up (${trace}; peak ${peak})`);
    }
    // A finished run leaves nothing but the diffusion's cached schedule (two tensors per backend).
    assert.ok(backend.memory().liveStorages <= before + 2, `${b.name}: ${backend.memory().liveStorages - before} storages left after the run`);
  });
}
