// indexSelect / indexAdd and takeAlongAxis / takeAlongAxisGrad.
import type { ReduceShape } from '../../../backend.ts';
import { Params, type WebGPURuntime, workOfBytes } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { type ElementRange, requireFits, rowRanges, windowOf } from '../windows.ts';

const WG = 64;
const spec = (entry: string, half = false) => ({ file: 'index', entry, overrides: { WG, HALF: half ? 1 : 0 } });

/** Outer slices [first, last] that flattened rows [r.start, r.start + r.count) of an
 * [outer, rowsPerSlice, inner] tensor belong to. */
function slicesOf(r: ElementRange, rowsPerSlice: number): [number, number] {
  return [Math.floor(r.start / rowsPerSlice), Math.floor((r.start + r.count - 1) / rowsPerSlice)];
}

export function indexSelect(rt: WebGPURuntime, x: GPUStorage, shape: ReduceShape, ids: GPUStorage): GPUStorage {
  const { outer, len, inner } = shape;
  const nids = ids.size;
  const n = outer * nids * inner;
  // A float16 table (a half embedding) gives float32 rows.
  const half = x.dtype === 'float16';
  const out = rt.alloc(n, half ? 'float32' : x.dtype);
  if (n === 0) return out;
  const label = `indexSelect[${outer},${len},${inner}] ids ${nids}${half ? ' f16' : ''}`;
  requireFits(rt, ids, label, 'ids');
  // Over one binding (a vocabulary embedding, or many ids): one dispatch per pair of a row range
  // of x and a row range of out that share an outer slice; each writes the outputs whose id
  // falls in its rows of x.
  const xRanges = rowRanges(rt, outer * len, inner, label, 'x');
  const outRanges = rowRanges(rt, outer * nids, inner, label, 'the output');
  const whole = xRanges.length === 1;
  for (const xr of xRanges) {
    const xw = windowOf(rt, x, xr.start * inner, xr.count * inner);
    // One window: every row is in it (also when len == 0, where ids only give zeros).
    const rowHi = whole ? 0xffffffff : xr.start + xr.count;
    for (const or of outRanges) {
      if (!whole && !overlap(slicesOf(xr, len), slicesOf(or, nids))) continue;
      const ow = windowOf(rt, out, or.start * inner, or.count * inner);
      const p = new Params().u(outer).u(len).u(inner).u(nids).u(xr.start).u(rowHi).u(xw.base).u(0)
        .u(0).u(0).u(ow.base).u(0).u(or.start * inner).u(or.count * inner).u(0).u(0);
      rt.dispatch(spec('index_select', half), p, [xw.binding, ids, ow.binding], rt.grid1D(or.count * inner, WG), label, workOfBytes(8 * or.count * inner));
    }
  }
  return out;
}

/** The intersection of two inclusive ranges, or null. */
function overlap(a: [number, number], b: [number, number]): [number, number] | null {
  const lo = Math.max(a[0], b[0]), hi = Math.min(a[1], b[1]);
  return lo <= hi ? [lo, hi] : null;
}

export function indexAdd(rt: WebGPURuntime, g: GPUStorage, shape: ReduceShape, ids: GPUStorage): GPUStorage {
  const { outer, len, inner } = shape;
  const nids = ids.size;
  const out = rt.alloc(outer * len * inner, 'float32');
  if (outer * len * inner === 0) return out;
  const label = `indexAdd[${outer},${len},${inner}] ids ${nids}`;
  if (nids === 0) { rt.clear(out); return out; }
  requireFits(rt, ids, label, 'ids');
  const accRanges = rowRanges(rt, outer * len, inner, label, 'the output');
  const gRanges = rowRanges(rt, outer * nids, inner, label, 'g');
  if (accRanges.length === 1 && gRanges.length === 1) {
    const p = new Params().u(outer).u(len).u(inner).u(nids).u(0).u(outer * len).u(0).u(0).u(0).u(0).u(0).u(0).u(0).u(0).u(0).u(outer * nids);
    // Column walk: outer*inner invocations of nids steps each. When that leaves the GPU idle
    // (tiny outer*inner) and the per-element form is not much more work, use that instead.
    if (outer * inner < 1024 && len * nids <= 1 << 16) {
      rt.dispatch(spec('index_add_elements'), p, [null, ids, null, g, out], rt.grid1D(outer * len * inner, WG), label);
    } else {
      rt.clear(out);
      rt.dispatch(spec('index_add_columns'), p, [null, ids, null, g, out], rt.grid1D(outer * inner, WG), label, workOfBytes(12 * g.size));
    }
    return out;
  }
  // Over one binding (the gradient of a vocabulary embedding): one column-walk dispatch per pair
  // of a row range of the output and a row range of g sharing outer slices. g ranges run in
  // order, so every element still sums its contributions in id order.
  rt.clear(out);
  for (const ar of accRanges) {
    const aw = windowOf(rt, out, ar.start * inner, ar.count * inner);
    for (const gr of gRanges) {
      const os = overlap(slicesOf(ar, len), slicesOf(gr, nids));
      if (!os) continue;
      const gw = windowOf(rt, g, gr.start * inner, gr.count * inner);
      const slices = os[1] - os[0] + 1;
      const p = new Params().u(slices).u(len).u(inner).u(nids).u(ar.start).u(ar.start + ar.count).u(0).u(0)
        .u(os[0]).u(0).u(aw.base).u(gw.base).u(0).u(0).u(gr.start).u(gr.start + gr.count);
      rt.dispatch(spec('index_add_columns'), p, [null, ids, null, gw.binding, aw.binding], rt.grid1D(slices * inner, WG), label,
        workOfBytes(12 * gr.count * inner));
    }
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
    rt.dispatch(spec('take_along'), p, [xw.binding, iw.binding, ow.binding], rt.grid1D(r.count * k * inner, WG), label, workOfBytes(12 * r.count * k * inner));
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
    rt.dispatch(spec('take_along_grad'), p, [null, iw.binding, null, gw.binding, ow.binding], rt.grid1D(r.count * inner, WG), label,
      workOfBytes(12 * r.count * k * inner));
  }
  return out;
}
