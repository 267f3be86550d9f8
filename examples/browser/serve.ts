// Serves the browser page on 127.0.0.1: builds the bundle, then serves examples/browser/ and a
// model folder at ./model/ (config.json + model.safetensors, as savePretrained writes them).
//   npx tsx examples/browser/serve.ts [--model DIR] [--port 8080]
// DIR is a model folder or a run folder with model/ (default runs/demo/run/model, what
// `npm run main` trains). Without one the page trains a fresh tiny model for a few steps itself.
// Open the printed URL in a browser with WebGPU (Chrome/Edge; on Linux, Chromium with
// --enable-unsafe-webgpu).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createCpuBackend, Generator } from '@reconvla/core';
import { initFromScratch, parseReconVLAConfig, ReconVLA, savePretrained, tinyConfigJson } from '@reconvla/reconvla';
import { tabletopStateRange, tabletopVocabulary } from '@reconvla/reconvla/sim';
import { buildPage } from './build.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.json': 'application/json', '.safetensors': 'application/octet-stream' };

/** A model folder from a model or run folder; null when neither holds one. */
export function modelFolderOf(dir: string): string | null {
  for (const d of [dir, path.join(dir, 'model'), path.join(dir, 'run', 'model')]) if (fs.existsSync(path.join(d, 'model.safetensors')) && fs.existsSync(path.join(d, 'config.json'))) return d;
  return null;
}

/** An untrained tiny ReconVLA for the tabletop, saved to a temp folder (the page then runs a random policy). */
export async function freshModelFolder(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconvla-page-model-'));
  const config = parseReconVLAConfig(tinyConfigJson({ words: tabletopVocabulary(), stateRange: tabletopStateRange() }));
  const model = new ReconVLA(config, { backend: createCpuBackend(), generator: new Generator(0) });
  initFromScratch(model, new Generator(0));
  await savePretrained(model, dir);
  model.dispose();
  return dir;
}

export interface ServedPage { url: string; close: () => Promise<void> }

/** Builds the bundle and serves the page with modelDir (if any) at ./model/ on host:port (0: any free port). */
export async function servePage(modelDir: string | null, opts: { port?: number; host?: string } = {}): Promise<ServedPage> {
  await buildPage();
  const host = opts.host ?? '127.0.0.1';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
    const [root, file] = rel.startsWith('model/') ? [modelDir, rel.slice('model/'.length)] : [here, rel];
    const full = root === null ? null : path.resolve(root, file);
    if (root === null || full === null || !full.startsWith(path.resolve(root) + path.sep) || !fs.existsSync(full) || !fs.statSync(full).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${url.pathname}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(full)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    fs.createReadStream(full).pipe(res);
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(opts.port ?? 0, host, resolve); });
  const port = (server.address() as { port: number }).port;
  return { url: `http://${host}:${port}/`, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({ options: { model: { type: 'string', default: 'runs/demo/run/model' }, port: { type: 'string', default: '8080' } } });
  const dir = modelFolderOf(values.model!);
  if (!dir) console.warn(`${values.model}: no model folder (config.json + model.safetensors): the page will train a fresh tiny model for a few steps (train a real one with \`npm run main\`, or pass --model DIR)`);
  const page = await servePage(dir, { port: Number(values.port) });
  console.log(`serving ${dir ? `${dir} at ` : ''}${page.url} (Ctrl-C stops)`);
}
