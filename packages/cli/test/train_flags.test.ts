// `reconvla train` flags that depend on each other are checked before any dataset is read:
// --init-keys needs --init-from, and --freeze-locator needs a locator that was trained (its own
// stage) or copied (--init-from with keys that cover every part of its keypoint network); --grounding
// takes no value or one of its two.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { groundingFlag, initFromFlags } from '../src/reconvla_commands.ts';

test('--init-from / --init-keys / --freeze-locator: what each needs, named', () => {
  assert.throws(() => initFromFlags({ initKeys: ['model.locator.'], locatorSteps: 0 }), /--init-keys: give --init-from RUN_OR_MODEL/);
  assert.throws(() => initFromFlags({ freezeLocator: true, locatorSteps: 0 }), /--freeze-locator: the locator would stay as initialised/);
  assert.throws(() => initFromFlags({ freezeLocator: true, locatorSteps: 0, initFrom: 'runs/a', initKeys: ['model.lm.'] }), /--freeze-locator/);
  assert.deepEqual(initFromFlags({ freezeLocator: true, locatorSteps: 0, initFrom: 'runs/a', initKeys: ['model.locator.'] }), { path: 'runs/a', prefixes: ['model.locator.'] });
  // Copying only part of the keypoint network would freeze the rest at its random init.
  assert.throws(() => initFromFlags({ freezeLocator: true, locatorSteps: 0, initFrom: 'runs/a', initKeys: ['model.locator.conv1.'] }), /--freeze-locator/);
  assert.throws(() => initFromFlags({ freezeLocator: true, locatorSteps: 0, initFrom: 'runs/a', initKeys: ['model.locator.proj1.'] }), /--freeze-locator/);
  const parts = ['conv1.', 'conv2.', 'conv3.', 'words.', 'heat.'].map((p) => `model.locator.${p}`);
  assert.deepEqual(initFromFlags({ freezeLocator: true, locatorSteps: 0, initFrom: 'runs/a', initKeys: parts }), { path: 'runs/a', prefixes: parts });
  assert.deepEqual(initFromFlags({ freezeLocator: true, locatorSteps: 0, initFrom: 'runs/a', initKeys: ['model.'] }), { path: 'runs/a', prefixes: ['model.'] });
  assert.deepEqual(initFromFlags({ freezeLocator: true, locatorSteps: 0, initFrom: 'runs/a' }), { path: 'runs/a', prefixes: [''] }); // every parameter
  assert.equal(initFromFlags({ freezeLocator: true, locatorSteps: 10 }), null);
  assert.equal(initFromFlags({ locatorSteps: 0 }), null);
});

test('--grounding: bare or "first" (the first view), "all" (every view), anything else named', () => {
  assert.equal(groundingFlag(undefined), false);
  assert.equal(groundingFlag(true), true);
  assert.equal(groundingFlag('first'), 'first');
  assert.equal(groundingFlag('all'), 'all');
  assert.throws(() => groundingFlag('gripper'), /--grounding gripper: expected "first" .* or "all"/);
});

test('reconvla train refuses a bad --grounding value when parsing, before it looks for the dataset', () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/reconvla.js');
  const r = spawnSync(process.execPath, [bin, 'train', '--data', '/nonexistent-dataset', '--out', '/nonexistent-run', '--grounding', 'gripper'], { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--grounding gripper: expected "first" .* or "all"/);
  assert.doesNotMatch(r.stderr, /no dataset/);
});

test('reconvla train refuses --bin-features outside 0..8 when parsing, before it looks for the dataset', () => {
  const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/reconvla.js');
  const r = spawnSync(process.execPath, [bin, 'train', '--data', '/nonexistent-dataset', '--out', '/nonexistent-run', '--bin-features', '9'], { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /bin-features must be in 0\.\.8, got 9/);
});
