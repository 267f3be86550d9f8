// `npm run golden` reproduces the committed fixtures byte for byte: the PyTorch twin
// (python/reconvla_twin) regenerates every fixture kind into a temporary folder (all of them:
// about 3 s of CPU; a minute of wall time under the whole suite's load on 2 cores), and each
// file, the README included, must equal golden/'s.
// Needs a python3 with torch (Debian's python3-torch, which scripts/setup.sh installs under
// CI=true); without one the test skips locally and fails under CI=true.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SafetensorsFile } from '../packages/core/src/safetensors/index.ts';
import { repoRoot, skipOrFail } from './helpers/golden.ts';

const committed = path.join(repoRoot, 'golden');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'golden-repro-'));
after(() => fs.rmSync(out, { recursive: true, force: true }));

/** The python3 that imports torch, as scripts/golden.sh finds it, or null. */
function torchPython(): string | null {
  const r = spawnSync('bash', ['-c', 'source scripts/find_torch_python.sh && find_torch_python'], { cwd: repoRoot, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

test('npm run golden regenerates the committed golden/ byte for byte', (t) => {
  const python = torchPython();
  if (!python) { skipOrFail(t, 'no python3 with torch (apt-get install python3-torch, or set RECONVLA_PYTHON)'); return; }
  const r = spawnSync('bash', ['scripts/golden.sh', out], { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `scripts/golden.sh failed:\n${r.stdout}\n${r.stderr}`);
  const want = fs.readdirSync(committed).sort();
  const got = fs.readdirSync(out).sort();
  assert.deepEqual(got, want, 'the generator writes exactly the committed files');
  assert.ok(want.filter((f) => f.endsWith('.safetensors')).length >= 8, `golden/ holds the 8 fixture kinds: ${want.join(', ')}`);
  const differ = want.filter((f) => !fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(committed, f))));
  assert.deepEqual(differ.map((f) => whatDiffers(path.join(out, f), path.join(committed, f))), [],
    'regenerated files differ from golden/ (rerun npm run golden and commit, or find the nondeterminism)');
});

/** For a failure message: which tensors and __metadata__ keys of a safetensors file differ. */
function whatDiffers(a: string, b: string): string {
  if (!a.endsWith('.safetensors')) return path.basename(a);
  const fa = SafetensorsFile.open(a), fb = SafetensorsFile.open(b);
  try {
    const names = [...new Set([...fa.names(), ...fb.names()])].sort();
    const tensors = names.filter((n) => !fa.has(n) || !fb.has(n) || !Buffer.from(fa.readBytes(n)).equals(Buffer.from(fb.readBytes(n))));
    const keys = [...new Set([...Object.keys(fa.metadata), ...Object.keys(fb.metadata)])].filter((k) => fa.metadata[k] !== fb.metadata[k]);
    return `${path.basename(a)}: tensors [${tensors.slice(0, 8).join(', ')}${tensors.length > 8 ? ', ...' : ''}], metadata [${keys.join(', ')}]`;
  } finally { fa.close(); fb.close(); }
}

test('the twin reproduces the committed fixtures from their parameters and inputs (check_golden)', (t) => {
  const python = torchPython();
  if (!python) { skipOrFail(t, 'no python3 with torch (apt-get install python3-torch, or set RECONVLA_PYTHON)'); return; }
  const r = spawnSync(python, ['-m', 'reconvla_twin.check_golden', committed], {
    cwd: repoRoot, encoding: 'utf8', timeout: 600_000,
    env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'python'), OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
  });
  assert.equal(r.status, 0, `check_golden failed:\n${r.stdout}\n${r.stderr}`);
  const ok = r.stdout.split('\n').filter((l) => l.startsWith('ok '));
  assert.equal(ok.length, fs.readdirSync(committed).filter((f) => f.endsWith('.safetensors')).length, r.stdout);
});
