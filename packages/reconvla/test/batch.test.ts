// Batch helpers: a batch built from int64 id tensors or from plain arrays scores exactly as the
// processor's batch; an id beyond int32 is an error naming its position; with reconstruction on,
// a batch (and forward) without target images is an error, not a silent action-only loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCpuBackend, F, Generator, tidy } from '@reconvla/core';
import { batchFromArrays, batchFromTensors, collatePrompts, parseReconVLAConfig, Processor, ReconVLA, type HostBatch } from '../src/index.ts';
import { syntheticSource, testModelJson } from './synthetic.ts';

const backend = createCpuBackend();
const model = new ReconVLA(parseReconVLAConfig(testModelJson()), { backend, generator: new Generator(4) });
const processor = new Processor(model.config);
const host = (await syntheticSource()({ batchSize: 2, seed: 1, start: 0 }).next()).value as HostBatch;
const reference = processor.batchInputs(host, backend);
const rows = host.instructions.map((instruction, i) => processor.promptIds({ instruction, state: host.states[i]!, actions: host.actions[i]! }));
const [b, t] = [reference.prompts.batchSize, reference.prompts.seqLen];

/** Both losses with fixed noise, so two batches of the same data give the same numbers. */
function losses(inputs: Parameters<ReconVLA['forward']>[0]): [number, number] {
  return tidy(() => {
    const out = model.forward({ ...inputs, generator: new Generator(9) });
    return [out.lmLoss!.itemSync(), out.vmLoss!.itemSync()];
  });
}

test('batchFromTensors: int64 ids, derived mask and labels give the processor batch\'s losses', async () => {
  const want = losses(reference);
  assert.ok(want.every(Number.isFinite) && want[0] > 0 && want[1] > 0, `${want}`);
  const ids = BigInt64Array.from(reference.prompts.inputIds, (x) => BigInt(x));
  const batch = await batchFromTensors(model, { inputIds: { data: ids, shape: [b, t] }, pixelValues: reference.pixelValues, targetImages: reference.targetImages! });
  assert.deepEqual(batch.prompts, reference.prompts);
  assert.deepEqual(losses(batch), want);
  // The same ids as an int32 tensor on the backend, with an explicit mask and labels.
  const asTensors = await batchFromTensors(model, {
    inputIds: F.tensor(reference.prompts.inputIds, [b, t], { backend, dtype: 'int32' }),
    attentionMask: F.tensor(reference.prompts.attentionMask, [b, t], { backend, dtype: 'int32' }),
    labels: F.tensor(reference.prompts.labels, [b, t], { backend, dtype: 'int32' }),
    pixelValues: reference.pixelValues, targetImages: reference.targetImages!,
  });
  assert.deepEqual(asTensors.prompts, reference.prompts);
});

test('batchFromArrays: prompt rows and flat pixels give the same batch and losses', () => {
  const batch = batchFromArrays(model, {
    inputIds: rows.map((r) => r.map((x) => BigInt(x))),
    pixelValues: reference.pixelValues.dataSync() as Float32Array,
    targetImages: Array.from(reference.targetImages!.dataSync()),
  });
  assert.deepEqual(batch.prompts, collatePrompts(rows, model.config.prompt));
  assert.deepEqual(losses(batch), losses(reference));
});

test('ids that do not fit int32, ids outside the vocabulary and wrong image shapes are errors naming them', async () => {
  const ids = BigInt64Array.from(reference.prompts.inputIds, (x) => BigInt(x));
  ids[t + 1] = 2n ** 31n;
  await assert.rejects(batchFromTensors(model, { inputIds: { data: ids, shape: [b, t] }, pixelValues: reference.pixelValues, targetImages: reference.targetImages! }),
    /batchFromTensors: inputIds\[1, 1\] = 2147483648 is not an int32 id/);
  assert.throws(() => batchFromArrays(model, { inputIds: [rows[0]!, [1n, -(2n ** 40n)]], pixelValues: new Float32Array(2 * 3 * 32 * 32), targetImages: new Float32Array(2 * 3 * 32 * 32) }),
    /batchFromArrays: inputIds\[1, 1\] = -1099511627776 is not an int32 id/);
  assert.throws(() => batchFromArrays(model, { inputIds: [[...rows[0]!.slice(0, 2), 100000, ...rows[0]!.slice(3)]], pixelValues: new Float32Array(3 * 32 * 32), targetImages: new Float32Array(3 * 32 * 32) }),
    /batchFromArrays: inputIds\[0, 2\] = 100000 is outside the vocabulary \[0, 320\)/);
  assert.throws(() => batchFromArrays(model, { inputIds: rows, pixelValues: new Float32Array(3 * 32 * 32), targetImages: new Float32Array(2 * 3 * 32 * 32) }),
    /batchFromArrays: pixelValues has 3072 values, expected 2 x 3 x 32 x 32 = 6144/);
});

test('reconstruction on without target images: the helpers and forward refuse; vmLoss: false gives the action loss alone', async () => {
  const ids = { data: reference.prompts.inputIds, shape: [b, t] };
  await assert.rejects(batchFromTensors(model, { inputIds: ids, pixelValues: reference.pixelValues }),
    /batchFromTensors: the reconstruction loss is on \(the config's ablation\.recon\) but targetImages is missing/);
  assert.throws(() => model.forward({ pixelValues: reference.pixelValues, prompts: reference.prompts }),
    /ReconVLA\.forward: the reconstruction loss is on \(the config's ablation\.recon\) but targetImages is missing/);
  const lmOnly = await batchFromTensors(model, { inputIds: ids, pixelValues: reference.pixelValues }, { vmLoss: false });
  const out = tidy(() => { const o = model.forward(lmOnly); return [o.loss.itemSync(), o.vmLoss, o.lmLoss!.itemSync()] as const; });
  assert.equal(out[1], null);
  assert.equal(out[0], out[2]);
  assert.equal(out[0], losses(reference)[0]);
});
