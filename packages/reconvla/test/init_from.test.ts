// train.initFrom: after the fresh init, the parameters under the given key prefixes come from
// another run or model folder, the rest keep their fresh values; a missing key, another shape or
// a prefix matching nothing is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Generator, type Backend } from '@reconvla/core';
import { testBackends } from '../../../test/helpers/backends.ts';
import { initFromScratch, loadPretrained, parseReconVLAConfig, ReconVLA, savePretrained, tinyConfigJson, Trainer } from '../src/index.ts';
import { stage, syntheticSource, trainConfig } from './synthetic.ts';

const all = await testBackends();
const backend = (all.find((b) => b.name === 'wasm' && b.backend) ?? all.find((b) => b.backend)!).backend as Backend;
const words = ['block', 'lift', 'red', 'the', 'blue'];
const range = { min: new Array(8).fill(0), max: new Array(8).fill(1) };
const withLocator = tinyConfigJson({ words, stateRange: range, stateEncoding: 'fourier', locator: true });
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-init-from-'));
const values = (m: ReconVLA): Map<string, Float32Array> => new Map([...m.namedParameters()].map(([k, p]) => [k, Float32Array.from(p.dataSync())]));

async function savedModel(json: ReturnType<typeof tinyConfigJson>, seed: number): Promise<string> {
  const m = new ReconVLA(parseReconVLAConfig(json), { backend, generator: new Generator(seed) });
  initFromScratch(m, new Generator(seed));
  const dir = tmp();
  await savePretrained(m, dir);
  m.dispose();
  return dir;
}

test('initFrom copies the parameters under the prefixes and leaves the fresh init of the rest', async () => {
  const source = await savedModel(withLocator, 11);
  const saved = loadPretrained(source, { backend }), src = values(saved);
  saved.dispose();
  const fresh = Trainer.create(trainConfig([stage('finetune', 1)], withLocator), { runDir: tmp(), backend, source: () => syntheticSource() });
  const copied = Trainer.create(trainConfig([stage('finetune', 1)], withLocator, { initFrom: { path: source, prefixes: ['model.locator.'] } }), { runDir: tmp(), backend, source: () => syntheticSource() });
  const a = values(fresh.model), b = values(copied.model);
  let locatorKeys = 0;
  for (const [k, v] of b) {
    const want = k.startsWith('model.locator.') ? src.get(k)! : a.get(k)!;
    if (k.startsWith('model.locator.')) locatorKeys++;
    if (k.startsWith('model.locator.') && k.endsWith('.weight')) { assert.notDeepEqual(Array.from(v), Array.from(a.get(k)!), `${k} differs from the fresh init`); }
    assert.deepEqual(Array.from(v), Array.from(want), k);
  }
  assert.ok(locatorKeys >= 10, `${locatorKeys} locator parameters`);
  fresh.model.dispose(); copied.model.dispose();
});

test('initFrom refuses a source without the key, another shape, and prefixes that match nothing', async () => {
  const plain = await savedModel(tinyConfigJson({ words, stateRange: range, stateEncoding: 'fourier' }), 12);
  const narrow = await savedModel(tinyConfigJson({ words, stateRange: range, stateEncoding: 'fourier', locator: true, llmWidth: 32 }), 13);
  const make = (prefixes: string[], from: string) => () => Trainer.create(trainConfig([stage('finetune', 1)], withLocator, { initFrom: { path: from, prefixes } }), { runDir: tmp(), backend, source: () => syntheticSource() });
  assert.throws(make(['model.locator.'], plain), /has no parameter model\.locator\.conv1\./);
  assert.throws(make(['model.locator.proj2.'], narrow), /model\.locator\.proj2\.weight is \[32, 32\] there, \[64, 64\] here/);
  assert.throws(make(['model.nothing.'], plain), /no parameter of this model starts with "model\.nothing\."/);
  assert.throws(make([''], path.join(plain, 'missing')), /no such run or model folder/);
});
