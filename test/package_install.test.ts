// The packages as an outside developer gets them: `npm run build`, `npm pack` of every package,
// the tarballs installed into a fresh project outside the workspace (offline from npm's cache
// when it has everything, else the registry), and examples/installed/consumer.mjs run with plain
// `node` (no tsx): it trains an MLP on @reconvla/core and loads a model folder saved here with
// @reconvla/reconvla, and must predict exactly the action ids the sources predict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createCpuBackend, Generator } from '@reconvla/core';
import { parseReconVLAConfig, predictActions, Processor, ReconVLA, savePretrained, tinyConfigJson } from '@reconvla/reconvla';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIBRARIES = ['core', 'dit', 'qwen2', 'siglip', 'vae', 'tabletop', 'reconvla'];

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
}

test('npm pack tarballs install into a fresh project and run with plain node', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-pack-'));
  try {
    sh('bash', ['scripts/build.sh'], repoRoot);
    const packs = path.join(tmp, 'packs');
    fs.mkdirSync(packs);
    const names = sh('npm', ['pack', '--silent', '--pack-destination', packs, ...[...LIBRARIES, 'cli'].flatMap((p) => ['-w', `packages/${p}`])], repoRoot).trim().split('\n');
    assert.deepEqual(names.sort(), [...LIBRARIES, 'cli'].map((p) => `reconvla-${p}-0.1.0.tgz`).sort());
    const cliFiles = sh('tar', ['-tzf', path.join(packs, 'reconvla-cli-0.1.0.tgz')], tmp);
    assert.match(cliFiles, /package\/dist\/main\.js/);
    assert.match(cliFiles, /package\/bin\/reconvla\.js/);
    assert.match(sh('tar', ['-tzf', path.join(packs, 'reconvla-core-0.1.0.tgz')], tmp), /package\/shaders\/matmul\.wgsl/);

    // A model folder saved from the sources, and what the sources predict from it.
    const backend = createCpuBackend();
    const words = ['drawer', 'open', 'the'];
    const model = new ReconVLA(parseReconVLAConfig(tinyConfigJson({ words, stateRange: { min: new Array(8).fill(0), max: new Array(8).fill(1) } })), { backend, generator: new Generator(3) });
    const modelDir = path.join(tmp, 'model');
    await savePretrained(model, modelDir);
    const image = { width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 37) % 256) };
    const want = await predictActions(model, new Processor(model.config), { images: [image], instruction: 'open the drawer', state: new Float32Array(8).fill(0.5) });

    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const tarballs = LIBRARIES.map((p) => path.join(packs, `reconvla-${p}-0.1.0.tgz`));
    const install = (mode: string) => sh('npm', ['install', mode, '--no-audit', '--no-fund', '--ignore-scripts', ...tarballs], app);
    try { install('--offline'); } catch { install('--prefer-offline'); } // a dependency npm ci never cached needs the registry
    fs.copyFileSync(path.join(repoRoot, 'examples/installed/consumer.mjs'), path.join(app, 'consumer.mjs'));
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // no tsx loader inherited from the test runner
    const out = JSON.parse(sh(process.execPath, ['consumer.mjs', modelDir], app, env).trim().split('\n').pop()!) as {
      core: string; reconvla: string; mlpLoss: number[]; loaded: number; log: string[]; ids: number[];
      backends: Record<'wasm' | 'webgpu', { maxAbsDiff?: number; error?: string }>;
    };
    assert.equal(out.core, `file://${fs.realpathSync(app)}/node_modules/@reconvla/core/dist/index.js`);
    assert.equal(out.reconvla, `file://${fs.realpathSync(app)}/node_modules/@reconvla/reconvla/dist/index.js`);
    const [first, last] = out.mlpLoss as [number, number];
    assert.ok(Number.isFinite(first) && last < first / 5, `MLP loss ${first} -> ${last}`);
    assert.equal(out.loaded, model.stateDict().size);
    assert.match(out.log[0]!, new RegExp(`^loadPretrained\\(.*\\): ${out.loaded} tensors loaded$`));
    assert.deepEqual(out.ids, want.ids);
    // wasm always runs; WebGPU runs where there is an adapter (its shaders come from the tarball), else says so.
    assert.ok(out.backends.wasm.maxAbsDiff! < 1e-4, JSON.stringify(out.backends.wasm));
    const gpu = out.backends.webgpu;
    if (gpu.error !== undefined) assert.match(gpu.error, /no WebGPU adapter/);
    else assert.ok(gpu.maxAbsDiff! < 1e-4, JSON.stringify(gpu));
    model.dispose();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
