// Fused neural-network kernels: softmax, normalize, cross-entropy, rope, random, AdamW.
import type { AdamWArgs } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { elementRanges, rowRanges, unitRanges, windowOf, windowOfSpan } from '../windows.ts';
import { rowGrid } from './reduce.ts';

const ROW_WG = 64;

export function softmax(rt: WebGPURuntime, x: GPUStorage, rows: number, cols: number, log: boolean): GPUStorage {
  const y = rt.alloc(rows * cols, 'float32');
  if (rows * cols === 0) return y;
  const label = `${log ? 'logSoftmax' : 'softmax'}[${rows},${cols}]`;
  const { spec, grid } = rowKernel(rt, 'softmax', 'softmax', rows, cols);
  for (const r of rowRanges(rt, rows, cols, label)) {
    const xw = windowOf(rt, x, r.start * cols, r.count * cols), yw = windowOf(rt, y, r.start * cols, r.count * cols);
    const p = new Params().u(r.count).u(cols).u(log ? 1 : 0).u(r.start).u(xw.base).u(yw.base).u(0).u(0);
    rt.dispatch(spec, p, [xw.binding, yw.binding], grid(r.count), label);
  }
  return y;
}

export function softmaxGrad(rt: WebGPURuntime, y: GPUStorage, gy: GPUStorage, rows: number, cols: number, log: boolean): GPUStorage {
  const dx = rt.alloc(rows * cols, 'float32');
  if (rows * cols === 0) return dx;
  const label = `${log ? 'logSoftmax' : 'softmax'}Grad[${rows},${cols}]`;
  const { spec, grid } = rowKernel(rt, 'softmax', 'softmax_grad', rows, cols);
  for (const r of rowRanges(rt, rows, cols, label)) {
    const [yw, dw, gw] = [y, dx, gy].map((s) => windowOf(rt, s, r.start * cols, r.count * cols)) as [Win, Win, Win];
    const p = new Params().u(r.count).u(cols).u(log ? 1 : 0).u(r.start).u(yw.base).u(dw.base).u(gw.base).u(0);
    rt.dispatch(spec, p, [yw.binding, dw.binding, gw.binding], grid(r.count), label);
  }
  return dx;
}

type Win = ReturnType<typeof windowOf>;

/** The entry point and grid of a row kernel: `entry` with a workgroup per row, or `entry_rows`
 * with an invocation per row (see normalize.wgsl, WebGPURuntime.rowsPerInvocation). */
function rowKernel(rt: WebGPURuntime, file: string, entry: string, rows: number, cols: number) {
  const lanes = rt.rowsPerInvocation(rows, cols);
  return {
    spec: { file, entry: lanes ? `${entry}_rows` : entry, overrides: { WG: ROW_WG } },
    grid: (count: number) => (lanes ? rt.grid1D(count, ROW_WG) : rowGrid(rt, count)),
  };
}

export function normalize(rt: WebGPURuntime, x: GPUStorage, rows: number, cols: number, eps: number, rms: boolean) {
  const y = rt.alloc(rows * cols, 'float32');
  const mean = rt.alloc(rows, 'float32');
  const rstd = rt.alloc(rows, 'float32');
  if (rows > 0) {
    const label = `${rms ? 'rmsNorm' : 'layerNorm'}[${rows},${cols}]`;
    const { spec, grid } = rowKernel(rt, 'normalize', 'normalize', rows, cols);
    for (const r of rowRanges(rt, rows, cols, label)) {
      const xw = windowOf(rt, x, r.start * cols, r.count * cols), yw = windowOf(rt, y, r.start * cols, r.count * cols);
      const [mw, rw] = [mean, rstd].map((s) => windowOf(rt, s, r.start, r.count, true)) as [Win, Win];
      const p = new Params().u(r.count).u(cols).u(rms ? 1 : 0).f(eps).u(r.start).u(xw.base).u(yw.base).u(0).u(mw.base);
      rt.dispatch(spec, p, [xw.binding, yw.binding, mw.binding, rw.binding], grid(r.count), label);
    }
  }
  return { y, mean, rstd };
}

export function normalizeGrad(rt: WebGPURuntime, xhat: GPUStorage, rstd: GPUStorage, gy: GPUStorage, rows: number, cols: number, rms: boolean): GPUStorage {
  const dx = rt.alloc(rows * cols, 'float32');
  if (rows * cols === 0) return dx;
  const label = `${rms ? 'rmsNorm' : 'layerNorm'}Grad[${rows},${cols}]`;
  const { spec, grid } = rowKernel(rt, 'normalize', 'normalize_grad', rows, cols);
  for (const r of rowRanges(rt, rows, cols, label)) {
    const [xw, dw, gw] = [xhat, dx, gy].map((s) => windowOf(rt, s, r.start * cols, r.count * cols)) as [Win, Win, Win];
    const rw = windowOf(rt, rstd, r.start, r.count, true);
    const p = new Params().u(r.count).u(cols).u(rms ? 1 : 0).f(0).u(r.start).u(xw.base).u(dw.base).u(gw.base).u(rw.base);
    rt.dispatch(spec, p, [xw.binding, dw.binding, null, null, gw.binding, rw.binding], grid(r.count), label);
  }
  return dx;
}

export function crossEntropy(rt: WebGPURuntime, logits: GPUStorage, targets: GPUStorage, rows: number, cols: number, ignoreIndex: number) {
  const loss = rt.alloc(rows, 'float32');
  const valid = rt.alloc(rows, 'float32');
  if (rows > 0) {
    const label = `crossEntropy[${rows},${cols}]`;
    const { spec, grid } = rowKernel(rt, 'cross_entropy', 'cross_entropy', rows, cols);
    for (const r of rowRanges(rt, rows, cols, label)) {
      const xw = windowOf(rt, logits, r.start * cols, r.count * cols);
      const [tw, lw, vw] = [targets, loss, valid].map((s) => windowOf(rt, s, r.start, r.count, true)) as [Win, Win, Win];
      const p = new Params().u(r.count).u(cols).i(ignoreIndex).u(r.start).u(xw.base).u(0).u(tw.base).u(0);
      rt.dispatch(spec, p, [xw.binding, tw.binding, lw.binding, vw.binding], grid(r.count), label);
    }
  }
  return { loss, valid };
}

export function crossEntropyGrad(rt: WebGPURuntime, logits: GPUStorage, targets: GPUStorage, gLoss: GPUStorage, rows: number, cols: number, ignoreIndex: number): GPUStorage {
  const dx = rt.alloc(rows * cols, 'float32');
  if (rows * cols === 0) return dx;
  const label = `crossEntropyGrad[${rows},${cols}]`;
  const { spec, grid } = rowKernel(rt, 'cross_entropy', 'cross_entropy_grad', rows, cols);
  for (const r of rowRanges(rt, rows, cols, label)) {
    const xw = windowOf(rt, logits, r.start * cols, r.count * cols), dw = windowOf(rt, dx, r.start * cols, r.count * cols);
    const [tw, gw] = [targets, gLoss].map((s) => windowOf(rt, s, r.start, r.count, true)) as [Win, Win];
    const p = new Params().u(r.count).u(cols).i(ignoreIndex).u(r.start).u(xw.base).u(dw.base).u(tw.base).u(0);
    rt.dispatch(spec, p, [xw.binding, tw.binding, dw.binding, null, gw.binding], grid(r.count), label);
  }
  return dx;
}

export function rope(rt: WebGPURuntime, x: GPUStorage, cos: GPUStorage, sin: GPUStorage, b: number, h: number, t: number, d: number, inverse: boolean): GPUStorage {
  const n = b * h * t * d;
  const y = rt.alloc(n, 'float32');
  if (n === 0) return y;
  if (d % 2 !== 0) throw new Error(`webgpu rope: head dim ${d} must be even`);
  const WG = 256;
  const label = `rope${inverse ? 'Inverse' : ''}[${b},${h},${t},${d}]`;
  // Over one binding: ranges of rows of x; a range's cos/sin rows are the hull of its (b, t).
  const names = ['x', 'the output', 'cos', 'sin'];
  const ranges = unitRanges(rt, b * h * t, [x, y, cos, sin], (r) => {
    const cs = (Math.floor(r / (h * t)) * t + (r % t)) * d;
    return [[r * d, (r + 1) * d], [r * d, (r + 1) * d], [cs, cs + d], [cs, cs + d]];
  }, (i) => `webgpu ${label}: one row of ${names[i]} (${d} elements, ${d * 4} bytes) exceeds maxStorageBufferBindingSize ${rt.maxBinding}`);
  for (const r of ranges) {
    const [xw, yw, cw, sw] = [x, y, cos, sin].map((s, i) => windowOfSpan(rt, s, r.spans[i]!)) as [Win, Win, Win, Win];
    const p = new Params().u(b).u(h).u(t).u(d).u(inverse ? 1 : 0).u(r.start).u(r.count * d).u(xw.base).u(cw.base).u(sw.base).u(yw.base).u(0);
    rt.dispatch({ file: 'rope', entry: 'rope', overrides: { WG } }, p, [xw.binding, cw.binding, sw.binding, yw.binding], rt.grid1D(r.count * d, WG), label);
  }
  return y;
}

export function random(rt: WebGPURuntime, size: number, kind: 'uniform' | 'normal', key: number, counter: number): GPUStorage {
  const y = rt.alloc(size, 'float32');
  const WG = 256;
  for (const r of elementRanges(rt, size)) {
    const w = windowOf(rt, y, r.start, r.count);
    const p = new Params().u(r.count).u(key).u(counter).u(kind === 'normal' ? 1 : 0).u(r.start).u(w.base).u(0).u(0);
    rt.dispatch({ file: 'random', entry: 'random', overrides: { WG } }, p, [w.binding], rt.grid1D(r.count, WG), `random.${kind}[${size}]`);
  }
  return y;
}

export function adamwInPlace(rt: WebGPURuntime, param: GPUStorage, grad: GPUStorage, m: GPUStorage, v: GPUStorage, a: AdamWArgs): void {
  const WG = 256;
  const bc1 = 1 - Math.pow(a.beta1, a.step), bc2 = 1 - Math.pow(a.beta2, a.step);
  for (const r of elementRanges(rt, param.size)) {
    const ws = [param, grad, m, v].map((s) => windowOf(rt, s, r.start, r.count));
    // vec4 when the range is 4-aligned and big enough to fill 16 workgroups (see adamw.wgsl).
    const vec = r.start % 4 === 0 && r.count % 4 === 0 && r.count >= 16 * WG * 4 ? 4 : 1;
    const p = new Params().u(r.count / vec).u(r.start).u(ws[0]!.base).u(0)
      .f(a.beta1).f(1 - a.beta1).f(a.beta2).f(1 - a.beta2)
      .f(1 - a.lr * a.weightDecay).f(a.lr / bc1).f(1 / Math.sqrt(bc2)).f(a.eps);
    const spec = { file: 'adamw', entry: 'adamw', overrides: { WG }, ...(vec === 4 ? { subst: { T: 'vec4f', VEC: '4u' } } : {}) };
    rt.dispatch(spec, p, ws.map((w) => w.binding), rt.grid1D(r.count / vec, WG), `adamw[${param.size}]`);
  }
}

export function combineRows(rt: WebGPURuntime, xs: readonly GPUStorage[], cs: readonly GPUStorage[], rows: number, cols: number): GPUStorage {
  if (xs.length < 1 || xs.length > 3 || xs.length !== cs.length) throw new Error(`webgpu combineRows: needs 1 to 3 inputs with one coefficient vector each, got ${xs.length} and ${cs.length}`);
  const y = rt.alloc(rows * cols, 'float32');
  if (rows * cols === 0) return y;
  const WG = 256;
  const label = `combineRows[${xs.length}x${rows},${cols}]`;
  const slot = (a: readonly GPUStorage[], i: number): GPUStorage => a[i] ?? a[0]!;
  // Over one binding: one dispatch per range of rows, every operand windowed at those rows.
  for (const r of rowRanges(rt, rows, cols, label, 'an input')) {
    const xw = [0, 1, 2].map((i) => windowOf(rt, slot(xs, i), r.start * cols, r.count * cols));
    const cw = [0, 1, 2].map((i) => windowOf(rt, slot(cs, i), r.start, r.count));
    const yw = windowOf(rt, y, r.start * cols, r.count * cols);
    const p = new Params().u(r.count).u(cols).u(xs.length).u(r.start);
    for (const w of [...xw, ...cw, yw]) p.u(w.base);
    p.u(0);
    rt.dispatch({ file: 'combine_rows', entry: 'combine_rows', overrides: { WG } }, p,
      [...xw.map((w) => w.binding), ...cw.map((w) => w.binding), yw.binding], rt.grid1D(r.count * cols, WG), label);
  }
  return y;
}
