// `npm run golden` is deterministic, and it reproduces the committed fixtures. The PyTorch twin
// (python/reconvla_twin) regenerates every fixture kind twice into temporary folders (about 3 s of
// CPU each; a minute of wall time under the whole suite's load on 2 cores):
//  - the two runs must be byte-identical (fixed seeds, one thread, no timestamps);
//  - against golden/, every file, tensor name, dtype, shape and metadata key must match, and every
//    value too, except the bits that depend on the CPU's vector code: the float32 run summarised
//    in `f32_vs_f64` (only its keys are compared), and float64 sums whose exact value is zero (the
//    gradients of attention key biases: noise of ~1e-15 that another CPU sums in another order).
//    A tensor may differ from golden/'s by 1e-12 + 1e-6 x its largest value, far below any
//    parity test's tolerance and far above that noise. Written on one machine and regenerated on
//    another (another CPU, same Debian torch), the fixtures differ only that way.
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
/** Metadata whose values come from float32 runs on this CPU (its keys are still compared). */
const CPU_DEPENDENT_METADATA = new Set(['f32_vs_f64']);

/** The python3 that imports torch, as scripts/golden.sh finds it, or null. */
function torchPython(): string | null {
  const r = spawnSync('bash', ['-c', 'source scripts/find_torch_python.sh && find_torch_python'], { cwd: repoRoot, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function generate(dir: string): void {
  const r = spawnSync('bash', ['scripts/golden.sh', dir], { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 });
  assert.equal(r.status, 0, `scripts/golden.sh failed:\n${r.stdout}\n${r.stderr}`);
}

test('npm run golden writes the same bytes twice, and golden/ up to the CPU-dependent bits', (t) => {
  const python = torchPython();
  if (!python) { skipOrFail(t, 'no python3 with torch (apt-get install python3-torch, or set RECONVLA_PYTHON)'); return; }
  const first = path.join(out, 'first'), second = path.join(out, 'second');
  generate(first);
  generate(second);
  const want = fs.readdirSync(committed).sort();
  const got = fs.readdirSync(first).sort();
  assert.deepEqual(got, want, 'the generator writes exactly the committed files');
  assert.deepEqual(fs.readdirSync(second).sort(), got);
  assert.ok(want.filter((f) => f.endsWith('.safetensors')).length >= 8, `golden/ holds the 8 fixture kinds: ${want.join(', ')}`);
  const rerun = got.filter((f) => !fs.readFileSync(path.join(first, f)).equals(fs.readFileSync(path.join(second, f))));
  assert.deepEqual(rerun, [], 'two runs of npm run golden wrote different bytes: find the nondeterminism');
  const differ = want.map((f) => whatDiffers(path.join(first, f), path.join(committed, f))).filter((d) => d !== null);
  assert.deepEqual(differ, [], 'regenerated files differ from golden/ beyond the CPU-dependent bits (rerun npm run golden and commit, or find the change)');
});

/** How a regenerated file differs from the committed one beyond the CPU-dependent bits, or null. */
function whatDiffers(a: string, b: string): string | null {
  if (!a.endsWith('.safetensors')) return fs.readFileSync(a).equals(fs.readFileSync(b)) ? null : path.basename(a);
  const fa = SafetensorsFile.open(a), fb = SafetensorsFile.open(b);
  try {
    const problems: string[] = [];
    const names = [...new Set([...fa.names(), ...fb.names()])].sort();
    for (const n of names) {
      if (!fa.has(n) || !fb.has(n)) { problems.push(`${n}: only in ${fa.has(n) ? 'the regenerated file' : 'golden/'}`); continue; }
      const ia = fa.info(n), ib = fb.info(n);
      if (ia.dtype !== ib.dtype || ia.shape.join() !== ib.shape.join()) { problems.push(`${n}: ${ia.dtype} [${ia.shape.join(', ')}] vs ${ib.dtype} [${ib.shape.join(', ')}]`); continue; }
      if (Buffer.from(fa.readBytes(n)).equals(Buffer.from(fb.readBytes(n)))) continue;
      if (ia.dtype !== 'F32' && ia.dtype !== 'F64') { problems.push(`${n}: ${ia.dtype} bytes differ`); continue; }
      const x = fa.readFloat64(n), y = fb.readFloat64(n);
      let scale = 0, worst = 0;
      for (let i = 0; i < y.length; i++) scale = Math.max(scale, Math.abs(y[i]!));
      for (let i = 0; i < y.length; i++) {
        const d = Math.abs(x[i]! - y[i]!);
        if (!(d <= worst)) worst = d; // NaN on either side counts as the worst
      }
      const tolerance = 1e-12 + 1e-6 * scale;
      if (!(worst <= tolerance)) problems.push(`${n}: max |difference| ${worst} > ${tolerance.toExponential(2)}`);
    }
    const keys = [...new Set([...Object.keys(fa.metadata), ...Object.keys(fb.metadata)])].sort();
    for (const k of keys) {
      const va = fa.metadata[k], vb = fb.metadata[k];
      if (va === undefined || vb === undefined) { problems.push(`metadata ${k}: only in ${va !== undefined ? 'the regenerated file' : 'golden/'}`); continue; }
      if (va === vb) continue;
      if (!CPU_DEPENDENT_METADATA.has(k)) { problems.push(`metadata ${k} differs`); continue; }
      const ka = Object.keys(JSON.parse(va) as object).sort().join(), kb = Object.keys(JSON.parse(vb) as object).sort().join();
      if (ka !== kb) problems.push(`metadata ${k}: other entries`);
    }
    return problems.length ? `${path.basename(a)}: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? '; ...' : ''}` : null;
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
