// The examples/ programs must keep running: each exits 0 only when it did what it says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { repoRoot } from './helpers/golden.ts';

test('examples/mlp_regression.ts trains the MLP and its loss falls at least 5x (cpu)', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'examples', 'mlp_regression.ts'), '--steps', '300'], {
    cwd: repoRoot, encoding: 'utf8', env: { ...process.env, RECONVLA_BACKEND: 'cpu' }, timeout: 120_000,
  });
  const m = out.match(/loss fell from ([\d.]+) to ([\d.]+)/);
  assert.ok(m, out);
  assert.ok(Number(m[2]) < Number(m[1]) / 5, out);
});
