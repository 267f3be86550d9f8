// Strided gather/scatter (layout changes are explicit copies).
import type { StridedView } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { paddedShape } from './elementwise.ts';

const WG = 256;

function viewParams(n: number, view: StridedView): Params {
  const p = new Params().u(n).i(view.offset).u(0).u(0);
  for (const d of paddedShape(view.shape)) p.u(d);
  const pad = 8 - view.strides.length;
  for (let d = 0; d < 8; d++) p.i(d < pad ? 0 : view.strides[d - pad]!);
  return p;
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function gatherStrided(rt: WebGPURuntime, x: GPUStorage, view: StridedView): GPUStorage {
  const n = numel(view.shape);
  const out = rt.alloc(n, x.dtype);
  if (n === 0) return out;
  rt.dispatch({ file: 'strided', entry: 'gather', overrides: { WG } }, viewParams(n, view), [x, out], rt.grid1D(n, WG),
    `gatherStrided[${view.shape}] strides [${view.strides}] +${view.offset}`);
  return out;
}

export function scatterStridedInto(rt: WebGPURuntime, dst: GPUStorage, view: StridedView, src: GPUStorage): void {
  const n = numel(view.shape);
  if (n === 0) return;
  rt.dispatch({ file: 'strided', entry: 'scatter', overrides: { WG } }, viewParams(n, view), [src, dst], rt.grid1D(n, WG),
    `scatterStridedInto[${view.shape}] strides [${view.strides}] +${view.offset}`);
}
