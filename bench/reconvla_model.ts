// What the `reconvla` bench family times: the model a preset trains (packages/cli/src/presets.ts,
// built as `reconvla demo` builds it: tinyConfigJson with the preset's model fields and the
// tabletop vocabulary), one training step as the Trainer runs it (forward with lm + vm loss,
// backward, gradient clipping, the one read of loss and norm, AdamW), and one policy call
// (predictActions: prefill + the greedy grounding and action tokens).
// Batches are synthetic (seeded random 32x32 images, the vision tower's and the gaze crop's size),
// so the bench needs no dataset; the shapes are the demo's.
import { type Backend, F, Generator, optim, tensor, tidy, type Tensor } from '@reconvla/core';
import { ActionTokenizer, collatePrompts, initFromScratch, parseReconVLAConfig, planSplice, predictActions, Processor, ReconVLA, tinyConfigJson, type HostBatch, type Json } from '@reconvla/reconvla';
import { tabletopStateRange, tabletopVocabulary } from '@reconvla/reconvla/sim';
import { Rng } from '@reconvla/tabletop';
import { PRESETS, type Preset } from '../packages/cli/src/presets.ts';

/** The model config.json a preset trains (as reconvla_commands.ts modelConfig builds it). */
export function presetModelJson(name: string): Json {
  const p: Preset = PRESETS[name]!;
  return tinyConfigJson({
    words: tabletopVocabulary(), stateRange: tabletopStateRange(), actionChunk: p.model.chunk, layout: 'instr-image-instr',
    views: p.model.views, stateEncoding: p.model.stateEncoding, denoiserRepeat: p.model.denoiserRepeat,
    llmWidth: p.model.llmWidth, llmLayers: p.model.llmLayers, nBins: p.model.actionBins, tasks: p.data.tasks,
    patchSize: p.model.patchSize, grounding: p.model.grounding,
    ablation: { recon: true, recon_target: 'gaze', unfreeze_vision_tower: p.model.unfreezeVision },
  });
}

/** What the PyTorch peer (bench/torch_reconvla.py) needs to build the same computation: the
 * config, and the splice plans of a training batch and of a generation prompt (gather rows,
 * labels, mask, image positions), so its sequence is exactly ours. */
export function peerInputs(json: Json, batchSize: number, cpu: Backend): Json {
  const cfg = parseReconVLAConfig(json);
  const proc = new Processor(cfg);
  const imageLen = cfg.imageEmbedLen * cfg.views.length;
  const batch = syntheticBatch(cfg.views.length, cfg.prompt.stateDim, cfg.prompt.actionChunk * cfg.prompt.actionDim, batchSize, 0);
  const grounding = proc.batchGrounding(batch);
  const rows = batch.instructions.map((instruction, i) => proc.promptIds({ instruction, state: batch.states[i]!, actions: batch.actions[i]!, ...(grounding.length ? { grounding: grounding[i]! } : {}) }));
  const plan = (ids: number[][], training: boolean) => {
    const p = planSplice(collatePrompts(ids, cfg.prompt, training), imageLen, cfg.prompt);
    return { length: p.length, text_ids: [...p.textIds], gather: [...p.gather], labels: [...p.labels], attention_mask: [...p.attentionMask], boi: p.boi };
  };
  const gen = proc.promptIds({ instruction: batch.instructions[0]!, state: batch.states[0]! });
  const [lo, hi] = new ActionTokenizer(cfg.actionTokenizer).tokenRange;
  const collated = collatePrompts(rows, cfg.prompt, true);
  const twinBatch = {
    shape: [collated.batchSize, collated.seqLen], input_ids: [...collated.inputIds], attention_mask: [...collated.attentionMask], labels: [...collated.labels],
    state_values: [...proc.stateValues(batch.states, cpu).dataSync()],
  };
  return {
    config: json, batch_size: batchSize, train: plan(rows, true), generate: plan([gen], false), twin_batch: twinBatch,
    state_features: proc.stateValues([batch.states[0]!], cpu).shape[1]!, new_tokens: cfg.prompt.groundingTokens + cfg.prompt.actionChunk * cfg.prompt.actionDim, action_range: [lo, hi],
  } as unknown as Json;
}

const INSTRUCTIONS = ['open the drawer', 'turn on the lamp', 'lift the red block', 'push the blue ball to the left'];

/** Batch number k: seeded random images (views per sample) with a random gaze box each (the
 * explicit grounding's labels), states in range, actions in [-1, 1]. */
export function syntheticBatch(views: number, stateDim: number, actionValues: number, batchSize: number, k: number): HostBatch {
  const rng = new Rng(9000 + k);
  const img = () => ({ width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, () => Math.floor(rng.next() * 256)) });
  const r = tabletopStateRange();
  const b: HostBatch = { images: [], targets: [], instructions: [], states: [], actions: [], gaze: [] };
  const box = (): [number, number, number, number] => { const x = Math.floor(rng.next() * 28), y = Math.floor(rng.next() * 28); return [x, y, x + 4, y + 4]; };
  for (let i = 0; i < batchSize; i++) {
    for (let v = 0; v < views; v++) { b.images.push(img()); b.gaze!.push(box()); }
    b.targets.push(img());
    b.instructions.push(INSTRUCTIONS[(i + k) % INSTRUCTIONS.length]!);
    b.states.push(Float32Array.from({ length: stateDim }, (_, j) => r.min[j]! + rng.next() * (r.max[j]! - r.min[j]!)));
    b.actions.push(Float32Array.from({ length: actionValues }, () => rng.next() * 2 - 1));
  }
  return b;
}

/** A preset's model on `backend`, initialised from scratch on the CPU reference with `seed`
 * and copied over, so every backend starts from the same weights. */
export async function buildModel(json: Json, backend: Backend, cpu: Backend, seed = 0): Promise<ReconVLA> {
  const cfg = parseReconVLAConfig(json);
  const ref = new ReconVLA(cfg, { backend: cpu, generator: new Generator(seed) });
  initFromScratch(ref, new Generator(seed + 1));
  if (backend === cpu) return ref;
  const model = new ReconVLA(cfg, { backend, generator: new Generator(seed) });
  const sd = new Map<string, Tensor>();
  for (const [k, t] of ref.stateDict()) sd.set(k, tensor(await t.data(), t.shape, { backend, dtype: t.dtype }));
  model.loadStateDict(sd);
  for (const t of sd.values()) t.dispose();
  ref.dispose();
  return model;
}

export interface StepValues { loss: number; lm: number; vm: number; norm: number }

/** One fine-tuning step as Trainer.runStage runs it (batch 16, lr 1e-3, clip 1, AdamW) on
 * inputs prepared beforehand, as the PyTorch peer gets tensors: the synthetic batches (seeded JS
 * random images, ~60 ms a batch here) and the processor's tensors are made before timing, four
 * batches cycled. Each call takes the next; `values` of the first call are what the check compares. */
export function trainStep(model: ReconVLA, batchSize: number, seed = 0): () => Promise<StepValues> {
  const cfg = model.config, backend = model.backend;
  const proc = new Processor(cfg);
  const params = model.parameters().filter((p) => p.requiresGrad);
  const opt = new optim.AdamW(params, { lr: 1e-3, weightDecay: 0 });
  const rng = new Generator(seed + 7);
  const inputs = Array.from({ length: 4 }, (_, k) =>
    proc.batchInputs(syntheticBatch(cfg.views.length, cfg.prompt.stateDim, cfg.prompt.actionChunk * cfg.prompt.actionDim, batchSize, k), backend));
  let k = 0;
  return async () => {
    const batch = inputs[k++ % inputs.length]!;
    const values = tidy(() => {
      const out = model.forward({ ...batch, generator: rng, lmLoss: true, vmLoss: true });
      out.loss.backward();
      const norm = optim.clipGradNorm(params, 1);
      return F.stack([out.loss, out.lmLoss!, out.vmLoss!, norm].map((t) => F.reshape(F.detach(t), [])));
    });
    const v = await values.data();
    values.dispose();
    tidy(() => { opt.step(); opt.zeroGrad(); });
    return { loss: v[0]!, lm: v[1]!, vm: v[2]!, norm: v[3]! };
  };
}

/** One policy call: predictActions on a fixed sample (prefill + chunk x action_dim greedy tokens). */
export function policyCall(model: ReconVLA): () => Promise<number[]> {
  const cfg = model.config;
  const proc = new Processor(cfg);
  const b = syntheticBatch(cfg.views.length, cfg.prompt.stateDim, 0, 1, 0);
  const sample = { images: b.images, instruction: b.instructions[0]!, state: b.states[0]! };
  return async () => (await predictActions(model, proc, sample)).ids;
}

/** The first prefill's logits over the action ids (what the policy check compares). */
export async function policyLogits(model: ReconVLA): Promise<Float32Array> {
  const cfg = model.config;
  const proc = new Processor(cfg);
  const b = syntheticBatch(cfg.views.length, cfg.prompt.stateDim, 0, 1, 0);
  const sample = { images: b.images, instruction: b.instructions[0]!, state: b.states[0]! };
  const logits = tidy(() => {
    const prompts = collatePrompts([proc.promptIds(sample)], cfg.prompt, false);
    const { plan, inputsEmbeds } = model.embedInputs(proc.samplePixels(sample, model.backend), prompts, proc.stateValues([sample.state], model.backend));
    return model.runLanguageModel(plan, inputsEmbeds).logits;
  });
  const v = await logits.data() as Float32Array;
  logits.dispose();
  const [, t, vocab] = logits.shape as [number, number, number];
  return v.slice((t - 1) * vocab, t * vocab);
}
