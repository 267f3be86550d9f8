// A perturbed copy of the golden fixture folder, to check that the golden tests can fail:
// every float expected value (`output.*` and `grad.*` tensors) is either scaled (x1.01 + 1e-3)
// or has its middle element set to NaN. Inputs, parameters, integer outputs, the JSON configs
// and the README are copied unchanged.
//
//   node --import tsx scripts/perturb_golden.ts OUT_DIR scale|nan [SRC_DIR]
//   RECONVLA_GOLDEN_DIR=OUT_DIR bash scripts/test.sh packages/*/test/golden_*.test.ts ...
//
// SRC_DIR defaults to $RECONVLA_GOLDEN_DIR, else ../shared/golden beside the repository.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile, writeSafetensors, type TensorsToWrite } from '../packages/core/src/safetensors/index.ts';
import { goldenDir } from '../test/helpers/golden.ts';

const [out, mode, src = goldenDir()] = process.argv.slice(2);
if (!out || (mode !== 'scale' && mode !== 'nan')) {
  console.error('usage: perturb_golden.ts OUT_DIR scale|nan [SRC_DIR]');
  process.exit(2);
}
fs.mkdirSync(out, { recursive: true });

const isExpected = (name: string) => name.startsWith('output.') || name.startsWith('grad.');
let changed = 0;
for (const file of fs.readdirSync(src).sort()) {
  const from = path.join(src, file), to = path.join(out, file);
  if (!file.endsWith('.safetensors')) { fs.copyFileSync(from, to); continue; }
  const f = SafetensorsFile.open(from);
  const tensors: TensorsToWrite = {};
  for (const name of f.names()) {
    const info = f.info(name);
    if (isExpected(name) && info.dtype === 'F32' && info.byteLength > 0) {
      const x = f.readFloat32(name);
      if (mode === 'scale') for (let i = 0; i < x.length; i++) x[i] = x[i]! * 1.01 + 1e-3;
      else x[x.length >> 1] = NaN;
      tensors[name] = { dtype: 'F32', shape: info.shape, data: x };
      changed++;
    } else {
      tensors[name] = { dtype: info.dtype, shape: info.shape, data: f.readBytes(name) };
    }
  }
  writeSafetensors(to, tensors, f.metadata);
  f.close();
}
console.log(`${out}: ${changed} expected-value tensors perturbed (${mode}) from ${src}`);
