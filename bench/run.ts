// Benchmark entry point: `npm run bench` (all families) or `npm run bench -- attention conv2d`.
// `--variant k=v,...` (or RECONVLA_BENCH_VARIANT) times a kernel variant against the current
// kernels instead of the peers, and prints without rewriting results (see variant.ts).
// Otherwise writes bench/results.json and bench/RESULTS.md (rows of other families are kept).
import { createWebGPUBackend } from '../packages/core/src/backends/webgpu/index.ts';
import { benchAttention } from './attention.ts';
import type { BenchFamily } from './context.ts';
import { benchConv2d } from './conv2d.ts';
import { benchElementwise } from './elementwise.ts';
import { benchLayerNorm } from './layer_norm.ts';
import { benchMatmul, benchMatmulEpilogue, benchMatmulF16 } from './matmul.ts';
import { type ResultRow, saveResults } from './results.ts';
import { benchReconvla } from './reconvla.ts';
import { loadTfPeer } from './tfjs_peer.ts';
import { benchTraining } from './training.ts';
import { parseVariant } from './variant.ts';
import { benchWasm } from './wasm_family.ts';

const FAMILIES: Record<string, BenchFamily> = {
  matmul: benchMatmul, matmul_f16: benchMatmulF16, matmul_epilogue: (ctx) => benchMatmulEpilogue(ctx), attention: benchAttention, conv2d: benchConv2d, layer_norm: benchLayerNorm,
  elementwise: benchElementwise, training: benchTraining, wasm: benchWasm, reconvla: benchReconvla,
};

// Other names users type for a family.
const ALIASES: Record<string, string> = { layernorm: 'layer_norm', step: 'training', train: 'training' };

const argv = process.argv.slice(2);
const variant = parseVariant(argv);
const wanted = argv.filter((a, i) => !a.startsWith('-') && argv[i - 1] !== '--variant').map((w) => ALIASES[w] ?? w);
for (const w of wanted) {
  if (!(w in FAMILIES)) {
    console.error(`unknown bench family '${w}' (known: ${Object.keys(FAMILIES).join(', ')}; aliases: ${Object.keys(ALIASES).join(', ')})`);
    process.exit(2);
  }
}
const families = wanted.length ? [...new Set(wanted)] : Object.keys(FAMILIES);

const be = await createWebGPUBackend();
const adapter = be.info().summary;
console.log(`adapter: ${adapter}`);
const peerOrError = variant ? { error: 'not loaded for variant runs' } : await loadTfPeer();
const peer = 'error' in peerOrError ? null : peerOrError;
if ('error' in peerOrError) console.log(`TF.js WebGPU peer unavailable: ${peerOrError.error}`);

const rows: ResultRow[] = [];
for (const f of families) rows.push(...await FAMILIES[f]!({ be, peer, log: console.log, variant }));
if (variant) {
  console.log('variant run: results.json and RESULTS.md left as they were');
} else {
  saveResults(rows, adapter);
  console.log('wrote bench/results.json and bench/RESULTS.md');
}
process.exit(0);
