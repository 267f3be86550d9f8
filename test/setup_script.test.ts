// scripts/setup.sh on a machine that already has everything must reach no network: no apt-get,
// no npm ci. The commands that would are replaced by stubs that log their call and fail, and
// ldconfig by one that prints a long list (libvulkan first), so a `ldconfig -p | grep -q`
// under pipefail would see SIGPIPE and wrongly decide to reinstall.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from './helpers/golden.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'setup-sh-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const bin = path.join(dir, 'bin'), icd = path.join(dir, 'icd.d'), log = path.join(dir, 'calls.log');
fs.mkdirSync(bin);
fs.mkdirSync(icd);
fs.writeFileSync(path.join(icd, 'lvp_icd.x86_64.json'), '{}');

function stub(name: string, body: string): void {
  fs.writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
}
// Anything that would install or download: log and fail.
for (const name of ['apt-get', 'apt', 'sudo', 'npm', 'curl', 'wget']) stub(name, `echo "${name} $*" >> "${log}"; exit 1`);
stub('dpkg-query', 'echo -n 25.0.7-2~bpo12+1');

// Pythons for the CI=true python3-torch check: one that imports torch, one that does not.
stub('python-with-torch', 'exit 0');
stub('python-without-torch', 'exit 1');
// A browser for the CI=true chromium check (RECONVLA_CHROMIUM points at it unless a test says otherwise).
stub('chromium', 'exit 0');

function runSetup(ldconfigHasVulkan: boolean, env: Record<string, string> = {}): { status: number | null; calls: string } {
  fs.rmSync(log, { force: true });
  // Megabytes of output: grep -q stops reading after the first line, so ldconfig dies of SIGPIPE.
  stub('ldconfig', `${ldconfigHasVulkan ? "echo '\tlibvulkan.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libvulkan.so.1'" : ''}
exec yes '\tlibsomething.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libsomething.so.1' | head -n 200000`);
  const r = spawnSync('bash', [path.join(repoRoot, 'scripts/setup.sh')], {
    cwd: repoRoot, encoding: 'utf8', timeout: 60_000,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, RECONVLA_SKIP_APT: '0', RECONVLA_VULKAN_ICD_DIR: icd, RECONVLA_PYTHON: path.join(bin, 'python-with-torch'), RECONVLA_CHROMIUM: path.join(bin, 'chromium'), ...env },
  });
  return { status: r.status, calls: fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '' };
}

test('setup.sh with everything installed runs no apt-get and no npm (three runs: the SIGPIPE race must never fire)', () => {
  for (let i = 0; i < 3; i++) {
    const r = runSetup(true);
    assert.equal(r.calls, '', `setup.sh tried to install: ${r.calls}`);
    assert.equal(r.status, 0);
  }
});

test('the stubs do catch an install: without libvulkan, setup.sh calls apt-get', () => {
  const r = runSetup(false);
  assert.match(r.calls, /^apt-get /m);
});

test('under CI=true with a python3 that has torch, setup.sh installs nothing', () => {
  const r = runSetup(true, { CI: 'true' });
  assert.equal(r.calls, '', `setup.sh tried to install: ${r.calls}`);
  assert.equal(r.status, 0);
});

test('under CI=true without torch, setup.sh installs python3-torch (and only under CI)', () => {
  const none = { RECONVLA_PYTHON: '', RECONVLA_PYTHON_CANDIDATES: path.join(bin, 'python-without-torch') };
  // Vulkan and npm are there, so the only apt-get is the torch install's (the failing stub stops it at `update`).
  assert.match(runSetup(true, { ...none, CI: 'true' }).calls, /^apt-get /m);
  assert.equal(runSetup(true, { ...none, CI: 'false' }).calls, '');
});

test('under CI=true without chromium, setup.sh installs it (and only under CI)', () => {
  const none = { RECONVLA_CHROMIUM: path.join(dir, 'no-chromium') };
  assert.match(runSetup(true, { ...none, CI: 'true' }).calls, /^apt-get /m);
  assert.equal(runSetup(true, { ...none, CI: 'false' }).calls, '');
});
