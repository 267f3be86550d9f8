// conv2d and its gradients as register-tiled implicit GEMMs, see shaders/conv2d.wgsl.
import type { Conv2dArgs } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';

/** Output block per invocation (tm channels x tn pixels/taps) and workgroup shape. */
export interface ConvTiling { tm: number; tn: number; wgx: number; wgy: number }

// lavapipe, [2,128,64,64] 3x3: 8 channels x 16 pixels (see docs/webgpu.md for the comparison).
export const DEFAULT_CONV_TILING: ConvTiling = { tm: 8, tn: 16, wgx: 8, wgy: 4 };

function params(a: Conv2dArgs, hasBias: boolean): Params {
  return new Params().u(a.n).u(a.c).u(a.h).u(a.w).u(a.o).u(a.kh).u(a.kw).u(hasBias ? 1 : 0)
    .u(a.strideH).u(a.strideW).u(a.padTop).u(a.padLeft).u(a.oh).u(a.ow).u(0).u(0);
}

const flops = (a: Conv2dArgs) => 2 * a.n * a.o * a.oh * a.ow * a.c * a.kh * a.kw;

const describe = (a: Conv2dArgs) => `x[${a.n},${a.c},${a.h},${a.w}] w[${a.o},${a.c},${a.kh},${a.kw}] s${a.strideH}x${a.strideW} `
  + `pad ${a.padTop},${a.padBottom},${a.padLeft},${a.padRight} -> [${a.oh},${a.ow}]`;

/** One GEMM-shaped dispatch: rows x cols outputs in tm x tn blocks. */
function run(rt: WebGPURuntime, entry: string, t: ConvTiling, p: Params, bindings: GPUStorage[], rows: number, cols: number, label: string, work: number): void {
  const spec = { file: 'conv2d', entry, subst: { TM: `${t.tm}u`, TN: `${t.tn}u` }, overrides: { WGX: t.wgx, WGY: t.wgy } };
  const groups: [number, number] = [Math.ceil(cols / t.tn / t.wgx), Math.ceil(rows / t.tm / t.wgy)];
  if (groups[0] > rt.maxWorkgroupsPerDim || groups[1] > rt.maxWorkgroupsPerDim) throw new Error(`webgpu ${label}: too many workgroups ${groups}`);
  rt.dispatch(spec, p, bindings, groups, label, work);
}

export function conv2d(rt: WebGPURuntime, x: GPUStorage, w: GPUStorage, bias: GPUStorage | undefined, a: Conv2dArgs, t = DEFAULT_CONV_TILING): GPUStorage {
  const n = a.n * a.o * a.oh * a.ow;
  const y = rt.alloc(n, 'float32');
  if (n === 0) return y;
  if (a.c * a.kh * a.kw === 0) { // empty reduction: bias or 0
    rt.clear(y);
    if (!bias) return y;
  }
  run(rt, 'conv2d', t, params(a, !!bias), [x, w, y, bias ?? w], a.o, a.n * a.oh * a.ow, `conv2d ${describe(a)}`, flops(a));
  return y;
}

export function conv2dGradInput(rt: WebGPURuntime, gy: GPUStorage, w: GPUStorage, a: Conv2dArgs, t = DEFAULT_CONV_TILING): GPUStorage {
  const n = a.n * a.c * a.h * a.w;
  const gx = rt.alloc(n, 'float32');
  if (n === 0) return gx;
  run(rt, 'conv2d_grad_input', t, params(a, false), [gy, w, gx], a.c, a.n * a.h * a.w, `conv2dGradInput ${describe(a)}`, flops(a));
  return gx;
}

export function conv2dGradWeight(rt: WebGPURuntime, x: GPUStorage, gy: GPUStorage, a: Conv2dArgs, t = DEFAULT_CONV_TILING): GPUStorage {
  const n = a.o * a.c * a.kh * a.kw;
  const gw = rt.alloc(n, 'float32');
  if (n === 0) return gw;
  run(rt, 'conv2d_grad_weight', t, params(a, false), [x, gy, gw], a.o, a.c * a.kh * a.kw, `conv2dGradWeight ${describe(a)}`, flops(a));
  return gw;
}
