// conv2d and its gradients as register-tiled implicit GEMMs, see shaders/conv2d.wgsl.
import type { Conv2dArgs } from '../../../backend.ts';
import { type Binding, Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';
import { requireFits, type UnitRange, unitRanges, windowOfSpan } from '../windows.ts';

/** Output block per invocation (tm channels x tn pixels/taps) and workgroup shape. */
export interface ConvTiling { tm: number; tn: number; wgx: number; wgy: number }

// lavapipe, [2,128,64,64] 3x3: 8 channels x 16 pixels (see docs/webgpu.md for the comparison).
export const DEFAULT_CONV_TILING: ConvTiling = { tm: 8, tn: 16, wgx: 8, wgy: 4 };

/** Conv parameters for images [n0, n0 + count): `offs` are where the range starts in the x, wt and
 * y windows (see the shader's Params). */
function params(a: Conv2dArgs, hasBias: boolean, count = a.n, offs: readonly number[] = [0, 0, 0], accumulate = false): Params {
  return new Params().u(count).u(a.c).u(a.h).u(a.w).u(a.o).u(a.kh).u(a.kw).u(hasBias ? 1 : 0)
    .u(a.strideH).u(a.strideW).u(a.padTop).u(a.padLeft).u(a.oh).u(a.ow).u(offs[0]!).u(offs[1]!)
    .u(offs[2]!).u(accumulate ? 1 : 0).u(0).u(0);
}

const flops = (a: Conv2dArgs) => 2 * a.n * a.o * a.oh * a.ow * a.c * a.kh * a.kw;

const describe = (a: Conv2dArgs) => `x[${a.n},${a.c},${a.h},${a.w}] w[${a.o},${a.c},${a.kh},${a.kw}] s${a.strideH}x${a.strideW} `
  + `pad ${a.padTop},${a.padBottom},${a.padLeft},${a.padRight} -> [${a.oh},${a.ow}]`;

/** Ranges of images whose slices of the batched operands (`elems` per image each) fit one
 * window; the other operands must fit one binding whole. */
function batchRanges(rt: WebGPURuntime, a: Conv2dArgs, batched: readonly [GPUStorage, number, string][], whole: readonly [GPUStorage | undefined, string][], label: string) {
  for (const [s, what] of whole) if (s) requireFits(rt, s, label, what);
  return unitRanges(rt, a.n, batched.map((b) => b[0]), (n) => batched.map(([, e]) => [n * e, (n + 1) * e] as const), (i) => {
    const [, e, what] = batched[i]!;
    return `webgpu ${label}: one image of ${what} (${e} elements, ${e * 4} bytes) exceeds maxStorageBufferBindingSize ${rt.maxBinding}`;
  });
}

/** Windows of the batched operands for a range, and where the range starts in each. */
function windows(rt: WebGPURuntime, r: UnitRange, ops: readonly GPUStorage[]): { bindings: Binding[]; offs: number[] } {
  const ws = ops.map((s, i) => windowOfSpan(rt, s, r.spans[i]!));
  return { bindings: ws.map((w) => w.binding), offs: ws.map((w, i) => r.spans[i]![0] - w.base) };
}

/** One GEMM-shaped dispatch: rows x cols outputs in tm x tn blocks. */
function run(rt: WebGPURuntime, entry: string, t: ConvTiling, p: Params, bindings: Binding[], rows: number, cols: number, label: string, work: number): void {
  const spec = { file: 'conv2d', entry, subst: { TM: `${t.tm}u`, TN: `${t.tn}u` }, overrides: { WGX: t.wgx, WGY: t.wgy } };
  const groups: [number, number] = [Math.ceil(cols / t.tn / t.wgx), Math.ceil(rows / t.tm / t.wgy)];
  if (groups[0] > rt.maxWorkgroupsPerDim || groups[1] > rt.maxWorkgroupsPerDim) throw new Error(`webgpu ${label}: too many workgroups ${groups}`);
  rt.dispatch(spec, p, bindings, groups, label, work);
}

// Over the binding limit each op runs once per range of images (the batch axis); grad weight
// sums over the batch, so its later ranges accumulate into gw.

export function conv2d(rt: WebGPURuntime, x: GPUStorage, w: GPUStorage, bias: GPUStorage | undefined, a: Conv2dArgs, t = DEFAULT_CONV_TILING): GPUStorage {
  const n = a.n * a.o * a.oh * a.ow;
  const y = rt.alloc(n, 'float32');
  if (n === 0) return y;
  if (a.c * a.kh * a.kw === 0) { // empty reduction: bias or 0
    rt.clear(y);
    if (!bias) return y;
  }
  const label = `conv2d ${describe(a)}`;
  const xImg = a.c * a.h * a.w, yImg = a.o * a.oh * a.ow;
  for (const r of batchRanges(rt, a, [[x, xImg, 'x'], [y, yImg, 'the output']], [[w, 'weight'], [bias, 'bias']], label)) {
    const { bindings: [xb, yb], offs: [xo, yo] } = windows(rt, r, [x, y]);
    const p = params(a, !!bias, r.count, [xo!, 0, yo!]);
    run(rt, 'conv2d', t, p, [xb!, w, yb!, bias ?? w], a.o, r.count * a.oh * a.ow, label, flops(a) * (r.count / a.n));
  }
  return y;
}

export function conv2dGradInput(rt: WebGPURuntime, gy: GPUStorage, w: GPUStorage, a: Conv2dArgs, t = DEFAULT_CONV_TILING): GPUStorage {
  const n = a.n * a.c * a.h * a.w;
  const gx = rt.alloc(n, 'float32');
  if (n === 0) return gx;
  const label = `conv2dGradInput ${describe(a)}`;
  const gyImg = a.o * a.oh * a.ow, gxImg = a.c * a.h * a.w;
  for (const r of batchRanges(rt, a, [[gy, gyImg, 'gy'], [gx, gxImg, 'the output']], [[w, 'weight']], label)) {
    const { bindings: [gyb, gxb], offs: [gyo, gxo] } = windows(rt, r, [gy, gx]);
    const p = params(a, false, r.count, [gyo!, 0, gxo!]);
    run(rt, 'conv2d_grad_input', t, p, [gyb!, w, gxb!], a.c, r.count * a.h * a.w, label, flops(a) * (r.count / a.n));
  }
  return gx;
}

export function conv2dGradWeight(rt: WebGPURuntime, x: GPUStorage, gy: GPUStorage, a: Conv2dArgs, t = DEFAULT_CONV_TILING): GPUStorage {
  const n = a.o * a.c * a.kh * a.kw;
  const gw = rt.alloc(n, 'float32');
  if (n === 0) return gw;
  const label = `conv2dGradWeight ${describe(a)}`;
  const xImg = a.c * a.h * a.w, gyImg = a.o * a.oh * a.ow;
  const ranges = batchRanges(rt, a, [[x, xImg, 'x'], [gy, gyImg, 'gy']], [[gw, 'the weight gradient']], label);
  for (const [i, r] of ranges.entries()) {
    const { bindings: [xb, gyb], offs: [xo, gyo] } = windows(rt, r, [x, gy]);
    const p = params(a, false, r.count, [xo!, gyo!, 0], i > 0);
    run(rt, 'conv2d_grad_weight', t, p, [xb!, gyb!, gw], a.o, a.c * a.kh * a.kw, label, flops(a) * (r.count / Math.max(1, a.n)));
  }
  return gw;
}
