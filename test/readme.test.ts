// The README's tensor-API example must run as written (on the CPU backend, so it is quick).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { repoRoot } from './helpers/golden.ts';

test('README tensor example runs and prints the gradient', () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = readme.match(/```ts\n([\s\S]*?)```/);
  assert.ok(block, 'README has a ```ts example');
  // Written inside the repo so '@reconvla/core' resolves through the workspace link.
  const file = path.join(repoRoot, 'examples', `.readme-example-${process.pid}.ts`);
  fs.writeFileSync(file, block[1]!);
  try {
    const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
      cwd: repoRoot, encoding: 'utf8', env: { ...process.env, RECONVLA_BACKEND: 'cpu' }, timeout: 60_000,
    });
    // y = sum(tanh(x x^T)) for x = [[1,2],[3,4]]: check dy/dx against a float64 evaluation.
    const x = [[1, 2], [3, 4]];
    const g = x.map(() => [0, 0]);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) {
      const s = x[i]![0]! * x[j]![0]! + x[i]![1]! * x[j]![1]!;
      const d = 1 - Math.tanh(s) ** 2;
      for (let k = 0; k < 2; k++) { g[i]![k]! += d * x[j]![k]!; g[j]![k]! += d * x[i]![k]!; }
    }
    const printed = (out.match(/-?\d[\d.e-]*/g) ?? []).map(Number);
    assert.equal(printed.length, 4, `expected 4 numbers, got: ${out}`);
    // Relative, per element. Each element sums (1 - tanh(s)^2) * x over four terms with
    // sum |x| <= 12; in float32, 1 - tanh(s)^2 cancels and carries an absolute error up to about
    // 2^-22, so an element's float32 error can reach F32_CANCEL. Elements well above it are
    // checked to 1e-3 of their value; the second row (1 - tanh(11)^2 = 1e-9, below float32's
    // resolution) can only be bounded by F32_CANCEL, and the message says so.
    const F32_CANCEL = 12 * 2 ** -22;
    g.flat().forEach((v, i) => {
      const p = printed[i]!;
      if (Math.abs(v) > 50 * F32_CANCEL) assert.ok(Math.abs(p - v) <= 1e-3 * Math.abs(v), `grad[${i}] ${p} vs ${v}: relative error ${Math.abs(p - v) / Math.abs(v)} > 1e-3`);
      else assert.ok(Math.abs(p - v) <= F32_CANCEL, `grad[${i}] ${p} vs ${v}: off by more than float32's cancellation error ${F32_CANCEL} (the value is below float32's resolution here)`);
    });
  } finally {
    fs.rmSync(file, { force: true });
  }
});
