// indexSelect / indexAdd and takeAlongAxis / takeAlongAxisGrad.
import type { ReduceShape } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { rowRanges, windowOf } from '../windows.ts';

const WG = 64;
const spec = (entry: string) => ({ file: 'index', entry, overrides: { WG } });

export function indexSelect(rt: WebGPURuntime, x: GPUStorage, shape: ReduceShape, ids: GPUStorage): GPUStorage {
  const { outer, len, inner } = shape;
  const nids = ids.size;
  const n = outer * nids * inner;
  // A float16 table (a half embedding) gives float32 rows.
  const half = x.dtype === 'float16', entry = half ? 'index_select_half' : 'index_select';
  const out = rt.alloc(n, half ? 'float32' : x.dtype);
  if (n === 0) return out;
  const label = `indexSelect[${outer},${len},${inner}] ids ${nids}${half ? ' f16' : ''}`;
  if (x.bytes <= rt.maxBinding) {
    const p = new Params().u(outer).u(len).u(inner).u(nids).u(0).u(len).u(0).u(0);
    rt.dispatch(spec(entry), p, [x, ids, out], rt.grid1D(n, WG), label);
    return out;
  }
  // x over the binding limit (a vocabulary embedding): one dispatch per window of rows, each
  // writing the outputs whose id falls in it. Ids out of range are zeroed by the first window.
  if (outer !== 1) throw new Error(`webgpu ${label}: x over maxStorageBufferBindingSize needs outer == 1`);
  const rowsPerWindow = Math.max(1, Math.floor((rt.maxBinding - rt.bindAlign) / x.elemBytes / inner));
  for (let lo = 0; lo < len; lo += rowsPerWindow) {
    const hi = Math.min(len, lo + rowsPerWindow);
    const w = windowOf(rt, x, lo * inner, (hi - lo) * inner);
    const p = new Params().u(outer).u(len).u(inner).u(nids).u(lo).u(hi).u(w.base).u(0);
    rt.dispatch(spec(entry), p, [w.binding, ids, out], rt.grid1D(n, WG), `${label} rows ${lo}..${hi}`);
  }
  return out;
}

export function indexAdd(rt: WebGPURuntime, g: GPUStorage, shape: ReduceShape, ids: GPUStorage): GPUStorage {
  const { outer, len, inner } = shape;
  const nids = ids.size;
  const out = rt.alloc(outer * len * inner, 'float32');
  if (outer * len * inner === 0) return out;
  const p = new Params().u(outer).u(len).u(inner).u(nids).u(0).u(len).u(0).u(0);
  const label = `indexAdd[${outer},${len},${inner}] ids ${nids}`;
  // Column walk: outer*inner invocations of nids steps each. When that leaves the GPU idle
  // (tiny outer*inner) and the per-element form is not much more work, use that instead.
  if (outer * inner < 1024 && len * nids <= 1 << 16) {
    rt.dispatch(spec('index_add_elements'), p, [null, ids, null, g, out], rt.grid1D(outer * len * inner, WG), label);
  } else {
    rt.clear(out);
    rt.dispatch(spec('index_add_columns'), p, [null, ids, null, g, out], rt.grid1D(outer * inner, WG), label);
  }
  return out;
}

export function takeAlongAxis(rt: WebGPURuntime, x: GPUStorage, shape: ReduceShape, idx: GPUStorage, k: number): GPUStorage {
  const { outer, len, inner } = shape;
  const n = outer * k * inner;
  const out = rt.alloc(n, x.dtype);
  if (n === 0) return out;
  const label = `takeAlongAxis[${outer},${len},${inner}] k ${k}`;
  // Over one binding: one dispatch per range of outer slices whose windows fit.
  for (const r of rowRanges(rt, outer, Math.max(len, k) * inner, label)) {
    const xw = windowOf(rt, x, r.start * len * inner, r.count * len * inner);
    const iw = windowOf(rt, idx, r.start * k * inner, r.count * k * inner);
    const ow = windowOf(rt, out, r.start * k * inner, r.count * k * inner);
    const p = new Params().u(r.count).u(len).u(inner).u(k).u(0).u(len).u(xw.base).u(0).u(r.start).u(iw.base).u(ow.base).u(0);
    rt.dispatch(spec('take_along'), p, [xw.binding, iw.binding, ow.binding], rt.grid1D(r.count * k * inner, WG), label);
  }
  return out;
}

export function takeAlongAxisGrad(rt: WebGPURuntime, g: GPUStorage, shape: ReduceShape, idx: GPUStorage, k: number): GPUStorage {
  const { outer, len, inner } = shape;
  const out = rt.alloc(outer * len * inner, 'float32');
  rt.clear(out);
  if (outer * inner === 0 || k === 0) return out;
  const label = `takeAlongAxisGrad[${outer},${len},${inner}] k ${k}`;
  for (const r of rowRanges(rt, outer, Math.max(len, k) * inner, label)) {
    const gw = windowOf(rt, g, r.start * k * inner, r.count * k * inner);
    const iw = windowOf(rt, idx, r.start * k * inner, r.count * k * inner);
    const ow = windowOf(rt, out, r.start * len * inner, r.count * len * inner);
    const p = new Params().u(r.count).u(len).u(inner).u(k).u(0).u(len).u(0).u(0).u(r.start).u(iw.base).u(ow.base).u(gw.base);
    rt.dispatch(spec('take_along_grad'), p, [null, iw.binding, null, gw.binding, ow.binding], rt.grid1D(r.count * inner, WG), label);
  }
  return out;
}
