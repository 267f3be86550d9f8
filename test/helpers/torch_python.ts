// The python3 that imports torch, for the tests that run the PyTorch twin: $RECONVLA_PYTHON,
// Debian's /usr/bin/python3, then the python3 on PATH (a pyenv one may lack torch). Null when
// none does (the tests then skip, or under CI=true fail).
import { spawnSync } from 'node:child_process';

let found: string | null | undefined;

export function torchPython(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const p of [process.env.RECONVLA_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!p) continue;
    const r = spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) { found = p; break; }
  }
  return found;
}
