// Time one training step of the tiny ReconVLA on a backend (the numbers in docs/reconvla.md):
//   node --import tsx packages/reconvla/bench/step.bench.ts wasm|cpu|webgpu [batch]
// Random 128x128 frames and 32x32 crops, the tabletop vocabulary; each phase runs twice and the
// second run is the one to read (the first compiles shaders / warms caches).
import { createCpuBackend, Generator, setBackend, tidy, type Backend, type Tensor } from '@reconvla/core';
import { collatePrompts, parseReconVLAConfig, Processor, ReconVLA, tinyConfigJson } from '../src/index.ts';
import { tabletopStateRange, tabletopVocabulary } from '../src/sim/index.ts';

const which = process.argv[2] ?? 'wasm';
const batchSize = Number(process.argv[3] ?? 16);
let backend: Backend;
if (which === 'cpu') backend = createCpuBackend();
else if (which === 'wasm') backend = (await import('@reconvla/core')).createWasmBackend();
else backend = await (await import('../../core/src/backends/webgpu/index.ts')).createWebGPUBackend();
setBackend(backend);

const cfg = parseReconVLAConfig(tinyConfigJson({ words: tabletopVocabulary(), stateRange: tabletopStateRange() }));
const model = new ReconVLA(cfg, { backend });
const p = new Processor(cfg);
let seed = 1;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const image = (s: number) => ({ width: s, height: s, data: Uint8Array.from({ length: s * s * 3 }, () => Math.floor(rand() * 256)) });
const images = Array.from({ length: batchSize }, () => image(128));
const targets = Array.from({ length: batchSize }, () => image(32));
const rows = images.map(() => p.promptIds({ instruction: 'put the red block in the blue bowl', state: new Float32Array(8), actions: Float32Array.from({ length: 14 }, () => rand() * 2 - 1) }));
const gen = new Generator(0);

async function time(name: string, fn: () => Tensor): Promise<void> {
  const t0 = performance.now();
  const r = tidy(fn);
  await r.data();
  r.dispose();
  console.log(`${which} ${name}: ${(performance.now() - t0).toFixed(1)} ms`);
}

for (let rep = 0; rep < 2; rep++) {
  console.log(`-- repetition ${rep + 1}`);
  await time('vision tower + projector', () => model.encodeImages(p.pixels(images, backend)).imageFeatures);
  await time('VAE target', () => model.targetLatent(p.pixels(targets, backend), { generator: gen }).latent);
  await time('forward+backward, lm loss only', () => {
    const o = model.forward({ pixelValues: p.pixels(images, backend), prompts: collatePrompts(rows, cfg.prompt), vmLoss: false });
    o.loss.backward();
    return o.loss;
  });
  await time('forward+backward, lm + vm (a full step without the optimizer)', () => {
    const o = model.forward({ pixelValues: p.pixels(images, backend), prompts: collatePrompts(rows, cfg.prompt), targetImages: p.pixels(targets, backend), generator: gen });
    o.loss.backward();
    return o.loss;
  });
  model.zeroGrad();
}
