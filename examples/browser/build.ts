// Bundles the page (app.ts with @reconvla/core, reconvla and tabletop from their TypeScript
// sources, through the @reconvla/source export condition) into examples/browser/dist/app.js
// with esbuild. Node built-ins and Node-only packages become node_stub.cjs (see there); the
// WGSL kernels, which Node reads from shaders/, are embedded.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const NODE_ONLY = /^(node:.*|webgpu|pngjs|fs|path|os|zlib|stream|util|crypto|worker_threads|v8|vm|module|url|child_process)$/;

/** A readFileSync over the repo's shaders/*.wgsl, keyed by file name (what shaders.ts asks for). */
function embeddedShaders(): string {
  const dir = path.join(here, '../../shaders');
  const files = Object.fromEntries(fs.readdirSync(dir).filter((f) => f.endsWith('.wgsl')).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
  return `const FILES = ${JSON.stringify(files)};
export function readFileSync(url) {
  const name = String(url).split('/').pop();
  if (!(name in FILES)) throw new Error('no shader ' + name + ' in the bundle');
  return FILES[name];
}`;
}

export async function buildPage(outDir = path.join(here, 'dist')): Promise<string> {
  const outfile = path.join(outDir, 'app.js');
  await esbuild.build({
    entryPoints: [path.join(here, 'app.ts')], outfile, bundle: true, format: 'esm', platform: 'browser', target: 'es2022',
    conditions: ['@reconvla/source'], sourcemap: true, logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
    // The packages read process.env / process.getuid in Node-only paths; the page has a stand-in.
    banner: { js: 'globalThis.process ??= { env: {}, once() {}, on() {}, stderr: { write() {} }, getuid: () => 0, versions: {} };' },
    plugins: [{
      name: 'node-only',
      setup(b) {
        // The WebGPU kernels read shaders/*.wgsl with readFileSync: the page gets them embedded.
        b.onResolve({ filter: /^node:fs$/ }, (args) => (/webgpu[\\/]shaders\.ts$/.test(args.importer) ? { path: 'wgsl', namespace: 'embedded-shaders' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'embedded-shaders' }, () => ({ contents: embeddedShaders(), loader: 'js' }));
        b.onResolve({ filter: NODE_ONLY }, () => ({ path: path.join(here, 'node_stub.cjs') }));
      },
    }],
  });
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  console.log(`wrote ${await buildPage()}`);
}
