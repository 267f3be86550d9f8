// `reconvla inspect`, run as a user runs it (a child process of bin/reconvla.js): a file, a
// sharded directory, --json, and malformed files that must give the reader's named error and
// exit code 1 without a stack trace.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeSafetensors, writeShardedCheckpoint, type TensorsToWrite } from '@reconvla/core';
import { CORPUS } from '../../core/test/safetensors_corpus.ts';
import type { InspectReport } from '../src/inspect.ts';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/reconvla.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-inspect-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function inspect(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, 'inspect', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tensors: TensorsToWrite = {
  'model.embed.weight': { dtype: 'F32', shape: [10, 4], data: new Float32Array(40) },
  'model.norm.weight': { dtype: 'F16', shape: [4], data: new Float32Array(4) },
  'model.step': { dtype: 'I64', shape: [], data: BigInt64Array.of(7n) },
};

test('a single file: every tensor with dtype, shape and bytes, the metadata and the parameter count', () => {
  const file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, tensors, { format: 'pt', note: 'x'.repeat(300) });
  const r = inspect(file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /safetensors file/);
  assert.match(r.stdout, /metadata: 2 keys\n {2}format: pt\n {2}note: x{97}\.\.\. \(300 chars\)/);
  assert.match(r.stdout, /tensors: 3, parameters: 45 \(45\), data: 176 bytes/);
  assert.match(r.stdout, /model\.embed\.weight +F32 +\[10, 4\] +160\n/);
  assert.match(r.stdout, /model\.norm\.weight +F16 +\[4\] +8\n/);
  assert.match(r.stdout, /model\.step +I64 +\[\] +8/);

  const json = inspect(file, '--json');
  assert.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout) as InspectReport;
  assert.equal(report.kind, 'file');
  assert.equal(report.parameters, 45);
  assert.equal(report.metadata['note'], 'x'.repeat(300), '--json keeps metadata whole');
  assert.deepEqual(report.tensors.find((t) => t.name === 'model.embed.weight'), { name: 'model.embed.weight', dtype: 'F32', shape: [10, 4], bytes: 160, file: 'model.safetensors' });
});

test('a sharded checkpoint directory: the index is followed, each tensor names its shard', () => {
  const sharded = path.join(dir, 'sharded');
  writeShardedCheckpoint(sharded, tensors, { maxShardBytes: 100, metadata: { total_size: '176' } });
  const r = inspect(sharded);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /sharded checkpoint, 2 shard files/);
  assert.match(r.stdout, /model-00001-of-00002\.safetensors: \d+ tensors/);
  assert.match(r.stdout, /tensors: 3, parameters: 45/);
  assert.match(r.stdout, /model\.embed\.weight +F32 +\[10, 4\] +160 +model-0000\d-of-00002\.safetensors/);
  const report = JSON.parse(inspect(path.join(sharded, 'model.safetensors.index.json'), '--json').stdout) as InspectReport;
  assert.equal(report.kind, 'sharded');
  assert.equal(report.files.length, 2);
  assert.equal(report.files.reduce((n, f) => n + f.tensors, 0), 3);
});

test('files with any upstream dtype (F8_E4M3) are listed', () => {
  const f8 = path.join(dir, 'f8.safetensors');
  fs.writeFileSync(f8, CORPUS.find((c) => c.name === 'f8_e4m3')!.bytes);
  const r = inspect(f8);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /q +F8_E4M3 +\[3\] +3/);
});

test('malformed files: the reader\'s named error, exit code 1, no stack trace', () => {
  for (const name of ['hole_between', 'nesting_100000_levels', 'shape_float_2.0', 'lone_leading_surrogate', 'metadata_twice', 'truncated_data']) {
    const c = CORPUS.find((k) => k.name === name)!;
    const file = path.join(dir, `${name}.safetensors`);
    fs.writeFileSync(file, c.bytes);
    const r = inspect(file);
    assert.equal(r.status, 1, `${name}: exit code`);
    assert.equal(r.stdout, '', `${name}: nothing on stdout`);
    assert.ok(r.stderr.includes(`${file}: `), `${name}: the message names the file: ${r.stderr}`);
    assert.match(r.stderr, c.problem!, name);
    assert.doesNotMatch(r.stderr, /\n\s+at |RangeError|SafetensorsError:/, `${name}: no stack trace`);
  }
  const missing = inspect(path.join(dir, 'nope.safetensors'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.safetensors: cannot open checkpoint/);
});
