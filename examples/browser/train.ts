// The page's own training: a fresh tiny ReconVLA learns from expert demonstrations it records in
// the tabletop simulator, on the browser's WebGPU, for a few steps (action and reconstruction
// losses, AdamW, gradient clipping as the trainer does). Seconds of training do not make a good
// policy; they show the whole loop, forward, backward and update, running in a page.
import { F, Generator, optim, tidy, type Backend, type Tensor } from '@reconvla/core';
import { initFromScratch, parseReconVLAConfig, Processor, ReconVLA, tinyConfigJson, type HostBatch } from '@reconvla/reconvla';
import { tabletopStateRange, tabletopVocabulary } from '@reconvla/reconvla/sim';
import { cropResize, expertPolicy, instructionFor, Rng, sampleTask, TabletopEnv, type Observation } from '@reconvla/tabletop';

export interface TrainRow { step: number; loss: number; lm: number; vm: number; ms: number }

interface Frame { image: Observation['static']; target: Uint8Array; state: Float32Array; instruction: string; actions: Float32Array }

/** Expert demonstrations: frames with their gaze crop (the reconstruction target) and the next actionChunk actions. */
async function recordDemos(episodes: number, chunk: number, seed: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  const env = new TabletopEnv({ env: 'A', distractors: 1 });
  for (let e = 0; e < episodes; e++) {
    const rng = new Rng(seed + e);
    env.reset(seed + e);
    const task = sampleTask(env.state, rng);
    if (!task) continue;
    env.setTask(task);
    const instruction = instructionFor(env.state, task, rng);
    const expert = expertPolicy({ seed: seed + e });
    const obs: Observation[] = [env.observe()];
    const actions: Float32Array[] = [];
    for (let t = 0; t < 40; t++) {
      const a = Float32Array.from(await expert(obs[obs.length - 1]!, instruction));
      actions.push(a);
      const r = env.step(a);
      obs.push(r.observation);
      if (r.success) break;
    }
    for (let t = 0; t < actions.length; t++) {
      const o = obs[t]!, box = o.gaze.static;
      if (!box) continue;
      const target = new Uint8Array(32 * 32 * 3);
      cropResize(o.static, box, 32, target);
      const chunkActions = new Float32Array(chunk * 7);
      for (let k = 0; k < chunk; k++) chunkActions.set(actions[Math.min(t + k, actions.length - 1)]!, k * 7);
      frames.push({ image: o.static, target, state: o.proprio, instruction, actions: chunkActions });
    }
  }
  return frames;
}

/** A fresh tiny model trained for `steps` steps of `batchSize` frames; each step reported through onStep. */
export async function trainInPage(backend: Backend, steps: number, onStep: (row: TrainRow) => void, opts: { batchSize?: number; seed?: number } = {}): Promise<ReconVLA> {
  const seed = opts.seed ?? 0, batchSize = opts.batchSize ?? 4;
  const config = parseReconVLAConfig(tinyConfigJson({ words: tabletopVocabulary(), stateRange: tabletopStateRange(), denoiserRepeat: 1 }));
  const model = new ReconVLA(config, { backend, generator: new Generator(seed) });
  initFromScratch(model, new Generator(seed)); // as the trainer does: a first action loss near log(vocab)
  const processor = new Processor(config);
  const frames = await recordDemos(4, config.prompt.actionChunk, 100 + seed);
  if (frames.length < batchSize) throw new Error(`trainInPage: ${frames.length} demonstration frames, fewer than a batch of ${batchSize}`);
  const params = model.trainableParameters().map(([, p]) => p);
  const opt = new optim.AdamW(params, { lr: 1e-3, weightDecay: 0 });
  const rng = new Rng(seed), gen = new Generator(seed + 1);
  for (let step = 0; step < steps; step++) {
    const t0 = performance.now();
    const picked = Array.from({ length: batchSize }, () => frames[Math.floor(rng.next() * frames.length)]!);
    const batch: HostBatch = {
      images: picked.map((f) => ({ width: f.image.width, height: f.image.height, data: f.image.rgb })),
      targets: picked.map((f) => ({ width: 32, height: 32, data: f.target })),
      instructions: picked.map((f) => f.instruction), states: picked.map((f) => f.state), actions: picked.map((f) => f.actions),
    };
    const values = tidy(() => {
      const out = model.forward({ ...processor.batchInputs(batch, backend), generator: gen });
      out.loss.backward();
      optim.clipGradNorm(params, 1);
      opt.step();
      opt.zeroGrad();
      return F.stack([out.loss, out.lmLoss!, out.vmLoss!].map((t: Tensor) => F.reshape(F.detach(t), [])));
    });
    const [loss, lm, vm] = Array.from(await values.data());
    values.dispose();
    onStep({ step, loss: loss!, lm: lm!, vm: vm!, ms: Math.round(performance.now() - t0) });
  }
  return model;
}
