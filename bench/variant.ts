// Kernel variants for A/B benchmarks in one command:
//   npm run bench -- matmul --variant tile=8x8,wg=8x8
//   npm run bench -- attention --variant tq=8,bk=4
//   RECONVLA_BENCH_VARIANT=tile=8x16 npm run bench -- matmul
// The family then times the current kernel and a backend built with the overrides, side by
// side (peer column = current kernel, ratio = current ms / variant ms, > 1: the variant wins).
// Variant runs print only; they do not rewrite results.json.
import type { AttentionTiling } from '../packages/core/src/backends/webgpu/ops/attention.ts';
import type { ConvTiling } from '../packages/core/src/backends/webgpu/ops/conv.ts';
import type { MatmulTiling } from '../packages/core/src/backends/webgpu/ops/matmul.ts';
import { createWebGPUBackend, type WebGPUBackend, type WebGPUBackendOptions } from '../packages/core/src/backends/webgpu/index.ts';

export type Variant = Readonly<Record<string, string>>;

export function parseVariant(argv: readonly string[]): Variant | null {
  const i = argv.indexOf('--variant');
  const text = i >= 0 ? argv[i + 1] : process.env.RECONVLA_BENCH_VARIANT;
  if (!text) return null;
  const out: Record<string, string> = {};
  for (const kv of text.split(',')) {
    const [k, v] = kv.split('=');
    if (!k || v === undefined) throw new Error(`--variant: expected k=v[,k=v...], got '${text}'`);
    out[k.trim()] = v.trim();
  }
  return out;
}

export const variantName = (v: Variant): string => Object.entries(v).map(([k, x]) => `${k}=${x}`).join(',');

const pair = (s: string, what: string): [number, number] => {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new Error(`--variant ${what}: expected AxB, got '${s}'`);
  return [Number(m[1]), Number(m[2])];
};

/** Backend options for a variant. Keys: matmul tile=TMxTN, wg=WGXxWGY; attention tq, tk, bk, awg;
 * conv2d ctile=TMxTN, cwg=WGXxWGY; elementwise fusion fuse=0|1. */
export function variantOptions(v: Variant, current: WebGPUBackend): WebGPUBackendOptions {
  const known = new Set(['tile', 'wg', 'tq', 'tk', 'bk', 'awg', 'ctile', 'cwg', 'fuse']);
  for (const k of Object.keys(v)) if (!known.has(k)) throw new Error(`--variant: unknown key '${k}' (known: ${[...known].join(', ')})`);
  const mm: MatmulTiling = { ...current.tiling };
  if (v.tile) [mm.tm, mm.tn] = pair(v.tile, 'tile');
  if (v.wg) [mm.wgx, mm.wgy] = pair(v.wg, 'wg');
  const at: AttentionTiling = { ...current.attentionTiling };
  if (v.tq) at.tq = Number(v.tq);
  if (v.tk) at.tk = Number(v.tk);
  if (v.bk) at.bk = Number(v.bk);
  if (v.awg) at.wg = Number(v.awg);
  const cv: ConvTiling = { ...current.convTiling };
  if (v.ctile) [cv.tm, cv.tn] = pair(v.ctile, 'ctile');
  if (v.cwg) [cv.wgx, cv.wgy] = pair(v.cwg, 'cwg');
  return { matmulTiling: mm, attentionTiling: at, convTiling: cv, fuseElementwise: v.fuse !== undefined ? v.fuse !== '0' : current.fusion.enabled };
}

export async function variantBackend(v: Variant, current: WebGPUBackend): Promise<WebGPUBackend> {
  return createWebGPUBackend(variantOptions(v, current));
}
