// The crafted corpus (safetensors_corpus.ts): our reader accepts exactly the files the Rust
// crate accepts, and refuses the others with a SafetensorsError that names the file and the
// problem (never a RangeError, never a hang), reading every accepted tensor's bytes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsError, SafetensorsFile } from '../src/safetensors/index.ts';
import { CORPUS } from './safetensors_corpus.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-corpus-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

for (const c of CORPUS) {
  test(`corpus ${c.name}: ${c.upstream === 'ok' ? 'accepted, as upstream' : `refused, as upstream (${c.upstream})`}`, () => {
    const p = path.join(dir, `${c.name}.safetensors`);
    fs.writeFileSync(p, c.bytes);
    let f: SafetensorsFile;
    try {
      f = SafetensorsFile.open(p);
    } catch (e) {
      assert.ok(e instanceof SafetensorsError, `expected a SafetensorsError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${p}: `), `the message names the file: ${e.message}`);
      assert.ok(c.upstream !== 'ok' && c.problem, `refused a file upstream accepts: ${e.message}`);
      assert.match(e.message, c.problem);
      return;
    }
    try {
      assert.equal(c.upstream, 'ok', `accepted a file upstream refuses (${c.upstream})`);
      const dataStart = 8 + Number(new DataView(c.bytes.buffer, c.bytes.byteOffset).getBigUint64(0, true));
      let covered = 0;
      for (const name of f.names()) {
        const info = f.info(name);
        assert.deepEqual(f.readBytes(name), c.bytes.subarray(info.byteOffset, info.byteOffset + info.byteLength));
        covered += info.byteLength;
      }
      assert.equal(dataStart + covered, c.bytes.length, 'the tensors cover the data section exactly');
    } finally {
      f.close();
    }
  });
}

test('corpus: the values behind the valid cases', () => {
  const open = (name: string) => {
    const p = path.join(dir, `values_${name}.safetensors`);
    fs.writeFileSync(p, CORPUS.find((c) => c.name === name)!.bytes);
    return SafetensorsFile.open(p);
  };
  let f = open('metadata_repeated_key_last_wins');
  assert.deepEqual(f.metadata, { a: '2' });
  f.close();
  f = open('metadata_key_written_with_escapes');
  assert.deepEqual(f.metadata, { k: 'v' });
  assert.deepEqual(f.names(), []);
  f.close();
  f = open('escaped_names');
  assert.deepEqual(f.names(), ['café', '😀', 'a/b\n']);
  f.close();
  f = open('f8_e4m3');
  assert.deepEqual(f.info('q').dtype, 'F8_E4M3');
  assert.throws(() => f.readFloat32('q'), /tensor "q": dtype F8_E4M3 is valid, but this reader does not convert it/);
  f.close();
  f = open('dtype_as_unit_variant_map');
  assert.equal(f.info('w').dtype, 'F32');
  f.close();
  f = open('dimension_beyond_2_pow_53_in_empty_tensor');
  assert.deepEqual(f.info('w').shape, [0, 2 ** 53]);
  f.close();
  f = open('entry_as_array');
  assert.deepEqual(f.info('w').shape, [2]);
  f.close();
});
