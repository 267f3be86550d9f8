// `reconvla loss --model DIR --batch FILE`: the losses (lm, vm, total) of one batch, and
// `reconvla batch ... --out FILE`: such a batch written from a tabletop dataset. The file holds
// everything a training step consumes, under the golden fixtures' `input.*` names, randomness
// included (posterior noise, t, noise), so any implementation (the PyTorch twin,
// python/reconvla_twin) computes its losses on exactly the same numbers:
//   input.pixel_values    [B x views, 3, S, S] F32   normalised images, each sample's views in order
//   input.input_ids       [B, T] I64                 prompts, right-padded with pad_token_id
//   input.attention_mask  [B, T] I64                 1 = token (the image placeholder too), 0 = padding
//   input.labels          [B, T] I64                 ignore_index up to the last colon, then the ids
//   input.target_images   [B, 3, S, S] F32           reconstruction targets (gaze crops), normalised
//   input.posterior_noise [B, latent_channels, l, l] F32   the VAE posterior's N(0,1) draw
//   input.t               [B x repeat] I64           diffusion timesteps
//   input.noise           [B x repeat, x_channel, g, g] F32   the epsilon target
//   input.state_values    [B, F] F32                 the state token's input ('linear'/'fourier' state encodings only)
//   input.state, input.actions                       the raw values the tokens were made from (informational)
import type { Command } from 'commander';
import {
  createBackend, F, Generator, noGrad, SafetensorsFile, tensor, tidy, writeSafetensors, type Backend, type Tensor, type TensorsToWrite,
} from '@reconvla/core';
import type { PromptBatch, ReconVLA } from '@reconvla/reconvla';
import { backendArg, intArg, type BackendFlag } from './args.ts';

export const BATCH_FORMAT = 'reconvla-batch/1';

/** The inputs of one step, as read from (or written to) a batch file. */
export interface StepBatch {
  pixelValues: Tensor; prompts: PromptBatch; targetImages: Tensor; posteriorNoise: Tensor; t: Tensor; noise: Tensor; stateValues?: Tensor;
}

export interface Losses { lm: number; vm: number | null; total: number }

/** Sizes of the randomness of a step for `batch` samples (the model's VaeTarget and vmLoss shapes). */
function noiseShapes(model: ReconVLA, batch: number): { posterior: number[]; t: number[]; noise: number[] } {
  const c = model.config;
  const side = c.decodeImageSize / 2 ** (c.vae.blockOutChannels.length - 1);
  const n = batch * c.denoiser.repeat;
  return { posterior: [batch, c.vae.latentChannels, side, side], t: [n], noise: [n, c.denoiser.xChannel, c.denoiser.inputSize, c.denoiser.inputSize] };
}

const needsStateValues = (model: ReconVLA): boolean => model.config.prompt.stateEncoding !== 'bins';

/** Reads a batch file, checking every tensor's presence, dtype and shape against the model. */
export function readBatch(file: string, model: ReconVLA, backend: Backend): StepBatch {
  const src = SafetensorsFile.open(file);
  try {
    const fail = (msg: string): never => { throw new Error(`${file}: ${msg}`); };
    const info = (name: string) => {
      if (!src.has(name)) fail(`tensor ${name} is missing (a batch file holds ${REQUIRED.join(', ')}${needsStateValues(model) ? ', input.state_values' : ''}; write one with \`reconvla batch\`)`);
      return src.info(name);
    };
    const ints = (name: string, shape: number[]): Int32Array => {
      const i = info(name);
      if (!['I64', 'I32'].includes(i.dtype)) fail(`tensor ${name} has dtype ${i.dtype}, expected I64 (or I32)`);
      if (i.shape.join() !== shape.join()) fail(`tensor ${name} has shape [${i.shape.join(', ')}], expected [${shape.join(', ')}]`);
      return src.readInt32(name);
    };
    const floats = (name: string, shape: (number | null)[]): Tensor => {
      const i = info(name);
      if (i.dtype !== 'F32') fail(`tensor ${name} has dtype ${i.dtype}, expected F32`);
      if (i.shape.length !== shape.length || shape.some((d, k) => d !== null && d !== i.shape[k])) {
        fail(`tensor ${name} has shape [${i.shape.join(', ')}], expected [${shape.map((d) => d ?? '*').join(', ')}]`);
      }
      const data = src.readFloat32(name);
      for (let k = 0; k < data.length; k++) if (!Number.isFinite(data[k]!)) fail(`tensor ${name} holds ${data[k]} at flat index ${k}`);
      return tensor(data, i.shape, { backend });
    };
    const ids = info('input.input_ids');
    if (ids.shape.length !== 2) fail(`tensor input.input_ids has shape [${ids.shape.join(', ')}], expected [B, T]`);
    const [b, t] = ids.shape as [number, number];
    const c = model.config, s = c.vision.imageSize, views = c.views.length;
    const shapes = noiseShapes(model, b);
    const prompts: PromptBatch = {
      batchSize: b, seqLen: t, inputIds: ints('input.input_ids', [b, t]), attentionMask: ints('input.attention_mask', [b, t]), labels: ints('input.labels', [b, t]),
    };
    const steps = ints('input.t', shapes.t);
    const bad = steps.findIndex((x) => x < 0 || x >= c.denoiser.diffusionSteps);
    if (bad >= 0) fail(`tensor input.t holds ${steps[bad]} at [${bad}], outside [0, ${c.denoiser.diffusionSteps})`);
    return {
      pixelValues: floats('input.pixel_values', [b * views, 3, s, s]),
      prompts,
      targetImages: floats('input.target_images', [b, 3, null, null]),
      posteriorNoise: floats('input.posterior_noise', shapes.posterior),
      t: tensor(steps, shapes.t, { backend, dtype: 'int32' }),
      noise: floats('input.noise', shapes.noise),
      ...(needsStateValues(model) ? { stateValues: floats('input.state_values', [b, null]) } : {}),
    };
  } finally {
    src.close();
  }
}

const REQUIRED = ['input.pixel_values', 'input.input_ids', 'input.attention_mask', 'input.labels', 'input.target_images', 'input.posterior_noise', 'input.t', 'input.noise'];

/** The training step's losses on the batch (no gradient): lm, vm (null when the config has no reconstruction) and their sum. */
export async function batchLosses(model: ReconVLA, b: StepBatch): Promise<Losses> {
  const values = noGrad(() => tidy(() => {
    const out = model.forward({ ...b });
    return F.stack([out.lmLoss!, out.vmLoss ?? F.zeros([]), out.loss].map((x) => F.reshape(x, [])));
  }));
  const [lm, vm, total] = await values.data();
  values.dispose();
  return { lm: lm!, vm: model.config.ablation.recon ? vm! : null, total: total! };
}

const toI64 = (a: Int32Array): BigInt64Array => BigInt64Array.from(a, (x) => BigInt(x));

export interface WriteBatchOptions { data: string; batchSize: number; seed: number; index: number }

/**
 * Batch number `index` of the tabletop source with `seed` (the trainer's fine-tuning stage k of a
 * run seeded s uses seed s * 1000 + k), processed as the trainer does, with the step's randomness
 * drawn from Generator(seed) in the model's order (posterior noise, t, noise).
 */
export async function writeBatch(model: ReconVLA, out: string, o: WriteBatchOptions, backend: Backend): Promise<StepBatch> {
  const R = await import('@reconvla/reconvla');
  const S = await import('@reconvla/reconvla/sim');
  const c = model.config;
  const it = S.tabletopSource(o.data, { cropSize: c.vision.imageSize, actionChunk: c.prompt.actionChunk, target: c.ablation.reconTarget, views: c.views, tasks: c.tasks })({ batchSize: o.batchSize, seed: o.seed, start: o.index });
  const host = (await it.next()).value as import('@reconvla/reconvla').HostBatch;
  await it.return?.();
  const inputs = new R.Processor(c).batchInputs(host, backend);
  const gen = new Generator(o.seed);
  const shapes = noiseShapes(model, o.batchSize);
  const posteriorNoise = F.randn(shapes.posterior, { backend, generator: gen });
  const t = F.randint(0, c.denoiser.diffusionSteps, shapes.t, { backend, generator: gen });
  const noise = F.randn(shapes.noise, { backend, generator: gen });
  const f32 = async (x: Tensor) => ({ dtype: 'F32' as const, shape: [...x.shape], data: await x.data() as Float32Array });
  const p = inputs.prompts;
  const tensors: TensorsToWrite = {
    'input.pixel_values': await f32(inputs.pixelValues),
    'input.input_ids': { dtype: 'I64', shape: [p.batchSize, p.seqLen], data: toI64(p.inputIds) },
    'input.attention_mask': { dtype: 'I64', shape: [p.batchSize, p.seqLen], data: toI64(p.attentionMask) },
    'input.labels': { dtype: 'I64', shape: [p.batchSize, p.seqLen], data: toI64(p.labels) },
    'input.target_images': await f32(inputs.targetImages!),
    'input.posterior_noise': await f32(posteriorNoise),
    'input.t': { dtype: 'I64', shape: shapes.t, data: toI64(await t.data() as Int32Array) },
    'input.noise': await f32(noise),
    'input.state': { dtype: 'F32', shape: [o.batchSize, c.prompt.stateDim], data: Float32Array.from(host.states.flatMap((st) => [...st.subarray(0, c.prompt.stateDim)])) },
    'input.actions': { dtype: 'F32', shape: [o.batchSize, c.prompt.actionChunk, c.prompt.actionDim], data: Float32Array.from(host.actions.flatMap((a) => [...a])) },
    ...(needsStateValues(model) ? { 'input.state_values': await f32(inputs.stateValues!) } : {}),
  };
  const metadata = {
    format: BATCH_FORMAT,
    batch: JSON.stringify({ data: o.data, batch_size: o.batchSize, seed: o.seed, index: o.index, views: c.views, state_encoding: c.prompt.stateEncoding }),
    instructions: JSON.stringify(host.instructions),
  };
  writeSafetensors(out, tensors, metadata);
  return { pixelValues: inputs.pixelValues, prompts: p, targetImages: inputs.targetImages!, posteriorNoise, t, noise, ...(inputs.stateValues && needsStateValues(model) ? { stateValues: inputs.stateValues } : {}) };
}

interface ModelFlags { run?: string; model?: string; backend: BackendFlag }

async function loadModel(f: ModelFlags): Promise<{ model: ReconVLA; from: string; backend: Backend }> {
  const R = await import('@reconvla/reconvla');
  const backend = await createBackend(f.backend);
  const { model, from } = R.loadRunOrFolder(f, backend);
  return { model, from, backend };
}

export function registerLoss(program: Command): void {
  program.command('loss')
    .description('the losses (lm, vm, total) of one batch file (input.* tensors, see `reconvla batch`): compare implementations on the same numbers')
    .option('--model <dir>', 'an exported model folder (reconvla export)')
    .option('--run <dir>', 'a run folder, instead of --model')
    .requiredOption('--batch <file>', 'a batch .safetensors file (input.pixel_values, input.input_ids, ...)')
    .option('--json', 'print {"lm", "vm", "total"} as JSON')
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'cpu' as BackendFlag)
    .action(async (f: ModelFlags & { batch: string; json?: boolean }) => {
      const { model, from, backend } = await loadModel(f);
      const losses = await batchLosses(model, readBatch(f.batch, model, backend));
      if (f.json) console.log(JSON.stringify({ model: from, batch: f.batch, ...losses }));
      else console.log(`${f.batch} on ${from}: lm ${losses.lm.toPrecision(8)}  vm ${losses.vm === null ? '-' : losses.vm.toPrecision(8)}  total ${losses.total.toPrecision(8)}`);
    });

  program.command('batch')
    .description('write one training batch of a tabletop dataset, randomness included, as input.* tensors for `reconvla loss` and the PyTorch twin')
    .option('--model <dir>', 'an exported model folder (its config decides views, sizes and tokenizer)')
    .option('--run <dir>', 'a run folder, instead of --model')
    .requiredOption('--data <dir>', 'tabletop dataset')
    .requiredOption('--out <file>', 'the .safetensors file to write')
    .option('--batch-size <n>', 'samples', intArg('batch-size', 1), 4)
    .option('--seed <n>', 'seeds the frame order and the step\'s noise (the trainer\'s stage k of a run seeded s: s*1000+k)', intArg('seed', 0), 0)
    .option('--index <n>', 'which batch of the seeded stream', intArg('index', 0), 0)
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'cpu' as BackendFlag)
    .action(async (f: ModelFlags & { data: string; out: string; batchSize: number; seed: number; index: number }) => {
      const { model, backend } = await loadModel(f);
      const b = await writeBatch(model, f.out, f, backend);
      console.log(`wrote ${f.out}: ${b.prompts.batchSize} samples of ${f.data} (seed ${f.seed}, batch ${f.index}), ${b.prompts.seqLen} prompt ids each`);
    });
}

