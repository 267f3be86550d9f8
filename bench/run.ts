// Benchmark entry point: `npm run bench` (all families) or `npm run bench -- matmul`.
// Writes bench/results.json and bench/RESULTS.md.
import { createWebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import { benchMatmul } from './matmul.ts';
import { type ResultRow, saveResults } from './results.ts';
import { loadTfPeer } from './tfjs_peer.ts';

const FAMILIES = ['matmul'] as const;
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const w of wanted) {
  if (!(FAMILIES as readonly string[]).includes(w)) { console.error(`unknown bench family '${w}' (known: ${FAMILIES.join(', ')})`); process.exit(2); }
}
const families = wanted.length ? wanted : [...FAMILIES];

const be = await createWebGPUBackend();
const adapter = be.info().summary;
console.log(`adapter: ${adapter}`);
const peerOrError = await loadTfPeer();
const peer = 'error' in peerOrError ? null : peerOrError;
if ('error' in peerOrError) console.log(`TF.js WebGPU peer unavailable: ${peerOrError.error}`);

const rows: ResultRow[] = [];
for (const f of families) {
  if (f === 'matmul') rows.push(...await benchMatmul(be, peer, console.log));
}
saveResults(rows, adapter);
console.log('wrote bench/results.json and bench/RESULTS.md');
process.exit(0);
