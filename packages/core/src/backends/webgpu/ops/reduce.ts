// Reductions over the middle axis of [outer, len, inner].
import type { ReduceOp, ReduceShape } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { rowRanges, windowOf } from '../windows.ts';
import { wgslType } from './elementwise.ts';

const CODES: Record<ReduceOp, number> = { sum: 0, max: 1, min: 2, argmax: 3, argmin: 4 };

/** Workgroup grid with one workgroup per row, split over x/y past 65535 rows. */
export function rowGrid(rt: WebGPURuntime, rows: number): [number, number] {
  if (rows <= rt.maxWorkgroupsPerDim) return [rows, 1];
  const y = Math.ceil(rows / rt.maxWorkgroupsPerDim);
  return [Math.ceil(rows / y), y];
}

export function reduce(rt: WebGPURuntime, op: ReduceOp, x: GPUStorage, shape: ReduceShape): GPUStorage {
  const { outer, len, inner } = shape;
  const isArg = op === 'argmax' || op === 'argmin';
  const outDtype = isArg ? 'int32' : x.dtype;
  const out = rt.alloc(outer * inner, outDtype);
  if (outer * inner === 0) return out;
  const subst = { T: wgslType(x.dtype), O: wgslType(outDtype) };
  const label = `reduce.${op}[${outer},${len},${inner}]`;
  // Long rows with nothing to parallelise across: a workgroup per row.
  const rows = inner === 1 && len >= 256;
  const spec = rows
    ? { file: 'reduce', entry: 'reduce_rows', subst, overrides: { OP: CODES[op], WG: 128 } }
    : { file: 'reduce', entry: 'reduce_columns', subst, overrides: { OP: CODES[op], WG: 64 } };
  // Over one binding: one dispatch per range of outer slices whose windows fit.
  for (const r of rowRanges(rt, outer, len * inner, label)) {
    const xw = windowOf(rt, x, r.start * len * inner, r.count * len * inner);
    const ow = windowOf(rt, out, r.start * inner, r.count * inner);
    const p = new Params().u(r.count).u(len).u(inner).u(r.start).u(xw.base).u(ow.base).u(0).u(0);
    rt.dispatch(spec, p, [xw.binding, ow.binding], rows ? rowGrid(rt, r.count) : rt.grid1D(r.count * inner, 64), label);
  }
  return out;
}
