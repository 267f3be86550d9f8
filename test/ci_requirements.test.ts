// A green run must mean the checks ran. Without the golden fixtures or a WebGPU adapter the
// tests that need them skip (saying why); under CI=true this file turns each such gap into a
// failure with the reason, so a CI run cannot pass on skips alone.
import { test } from 'node:test';
import * as fs from 'node:fs';
import { describeWebGPU } from '../packages/core/src/backends/webgpu/index.ts';
import { FIXTURE_KINDS, goldenDir, skipOrFail } from './helpers/golden.ts';

test('the golden fixture folder holds every fixture kind the tests read', (t) => {
  const dir = goldenDir();
  if (!fs.existsSync(dir)) { skipOrFail(t, `no golden fixture folder at ${dir} (set RECONVLA_GOLDEN_DIR)`); return; }
  const names = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).map((f) => f.replace(/\.safetensors$/, ''));
  const missing = FIXTURE_KINDS.filter((kind) => !names.some((n) => kind.test(n)));
  if (missing.length > 0) skipOrFail(t, `the golden folder ${dir} has no fixture for ${missing.join(', ')}`);
});

test('a WebGPU adapter is available', async (t) => {
  const d = await describeWebGPU();
  if (!d.available) skipOrFail(t, `no WebGPU adapter: ${d.summary ?? '?'}. ${d.fix ?? ''}`);
});
