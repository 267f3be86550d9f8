// Ordered bin embeddings (prompt.bin_fourier_bands): every action-bin id enters as its table row
// plus a projection of its value's Fourier features, other ids as their plain row; the projection
// learns (its gradient matches finite differences); the policy's fed-back tokens are embedded as
// the prompt's are (each greedy id is the argmax of a full teacher-forced pass over the answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCpuBackend, F, Generator, noGrad, tidy, type Tensor } from '@reconvla/core';
import { causalLMLoss } from '@reconvla/qwen2';
import { TabletopEnv } from '@reconvla/tabletop';
import { collatePrompts, initFromScratch, parseReconVLAConfig, predictActions, Processor, ReconVLA, tinyConfigJson } from '../src/index.ts';
import { observationViews } from '../src/sim/index.ts';

const backend = createCpuBackend();
const BANDS = 3;
const json = (bands: number | undefined) => tinyConfigJson({
  words: ['block', 'lift', 'red', 'the'], stateRange: { min: new Array(8).fill(-1), max: new Array(8).fill(1) },
  views: ['static'], stateEncoding: 'bins', actionChunk: 1, nBins: 32, grounding: true, llmWidth: 32, llmLayers: 1, ...(bands !== undefined ? { binFeatures: bands } : {}),
});
const model = new ReconVLA(parseReconVLAConfig(json(BANDS)), { backend, generator: new Generator(3) });
initFromScratch(model, new Generator(3));
// A visible projection (the init's N(0, 0.02) would leave the bins' rows nearly unchanged).
noGrad(() => model.binFeatures!.proj.weight.assign(F.mul(model.binFeatures!.proj.weight, 25)));
const processor = new Processor(model.config);
const obs = new TabletopEnv({ env: 'A' }).reset(2);
const sample = { images: observationViews(obs, model.config.views), instruction: 'lift the red block', state: obs.proprio };

test('config: bin_fourier_bands defaults to 0 (upstream), bad values are named; the features are not saved', () => {
  assert.equal(parseReconVLAConfig(json(undefined)).prompt.binFourierBands, 0);
  assert.equal(new ReconVLA(parseReconVLAConfig(json(undefined)), { backend }).binFeatures, null);
  assert.throws(() => parseReconVLAConfig({ ...json(0), prompt: { ...(json(0).prompt as object), bin_fourier_bands: -1 } }), /prompt.bin_fourier_bands -1/);
  const keys = [...model.stateDict().keys()].filter((k) => k.includes('bin_features'));
  assert.deepEqual(keys, ['model.bin_features.proj.weight']);
});

test('the input table: bin ids get their value\'s projected Fourier features, other ids their plain row', () => {
  const [lo, hi] = model.actionTokenizer.tokenRange;
  const d = model.config.llm.hiddenSize;
  const table = model.inputEmbeddingTable().dataSync() as Float32Array;
  const plain = model.lm.model.embed_tokens.weight.dataSync() as Float32Array;
  const w = model.binFeatures!.proj.weight.dataSync() as Float32Array; // [d, 1 + 2 bands]
  const width = 1 + 2 * BANDS;
  for (let id = 0; id < model.config.llm.vocabSize; id++) {
    let f: number[] | null = null;
    if (id >= lo && id <= hi) {
      const v = model.actionTokenizer.decodeId(id);
      f = [v];
      for (let k = 0; k < BANDS; k++) f.push(Math.sin(2 ** k * Math.PI * v), Math.cos(2 ** k * Math.PI * v));
    }
    for (let j = 0; j < d; j++) {
      const extra = f ? f.reduce((s, x, i) => s + x * w[j * width + i]!, 0) : 0;
      const want = plain[id * d + j]! + extra, got = table[id * d + j]!;
      assert.ok(Math.abs(got - want) <= 1e-5, `row ${id} col ${j}: ${got} vs ${want}`);
      if (!f) assert.equal(got, plain[id * d + j]);
    }
  }
});

/** The language-model loss of one training row (grounding and action tokens supervised). */
function lmLossTensor(): Tensor {
  const row = processor.promptIds({ ...sample, actions: [0.5, -0.25, 0, 0, 0, 0, 1], grounding: [0.3, -0.6] });
  const prompts = collatePrompts([row], model.config.prompt, true);
  const { plan, inputsEmbeds } = model.embedInputs(processor.samplePixels(sample, backend), prompts, processor.stateValues([sample.state], backend));
  const { logits } = model.runLanguageModel(plan, inputsEmbeds);
  return causalLMLoss(logits, F.tensor(plan.labels, [plan.batchSize, plan.length], { backend, dtype: 'int32' }), model.config.prompt.ignoreIndex);
}
const lmLoss = (): number => tidy(() => noGrad(lmLossTensor)).dataSync()[0]!;

test('the projection learns: its gradient matches central differences of the loss', () => {
  const w = model.binFeatures!.proj.weight;
  const grad = tidy(() => { lmLossTensor().backward(); return w.grad!.dataSync() as Float32Array; });
  const values = w.dataSync() as Float32Array;
  const eps = 1e-2;
  let checked = 0;
  for (const i of [0, 1, 5, 7 + 2, 7 * 10 + 3]) {
    const at = (v: number) => { const x = Float32Array.from(values); x[i] = v; noGrad(() => w.assign(F.tensor(x, w.shape, { backend }))); return lmLoss(); };
    const fd = (at(values[i]! + eps) - at(values[i]! - eps)) / (2 * eps);
    noGrad(() => w.assign(F.tensor(values, w.shape, { backend })));
    assert.ok(Number.isFinite(grad[i]!) && Math.abs(grad[i]! - fd) <= 2e-3 + 2e-2 * Math.abs(fd), `weight ${i}: autograd ${grad[i]}, differences ${fd}`);
    if (Math.abs(fd) > 1e-4) checked++;
  }
  assert.ok(checked >= 3, 'most checked weights move the loss');
  for (const p of model.parameters()) p.grad = null;
});

test('greedy decoding embeds its fed-back ids as a full pass does: each id is that pass\'s argmax', async () => {
  const p = await predictActions(model, processor, sample);
  const [lo, hi] = model.actionTokenizer.tokenRange;
  const row = processor.promptIds({ ...sample, actions: p.actions, grounding: p.grounding });
  const logits = tidy(() => noGrad(() => {
    const prompts = collatePrompts([row], model.config.prompt, false);
    const { plan, inputsEmbeds } = model.embedInputs(processor.samplePixels(sample, backend), prompts, processor.stateValues([sample.state], backend));
    return model.runLanguageModel(plan, inputsEmbeds).logits;
  }));
  const [, L, V] = logits.shape as [number, number, number];
  const all = logits.dataSync() as Float32Array;
  // The answer's ids are the row's last ones before the end token.
  const n = p.ids.length, first = L - 1 - n;
  for (let k = 0; k < n; k++) {
    const at = (first - 1 + k) * V;
    let best = lo;
    for (let id = lo + 1; id <= hi; id++) if (all[at + id]! > all[at + best]!) best = id;
    assert.equal(best, p.ids[k], `token ${k}: greedy ${p.ids[k]}, full pass ${best}`);
  }
  assert.ok(new Set(p.ids).size > 1 || n > 0);
});
