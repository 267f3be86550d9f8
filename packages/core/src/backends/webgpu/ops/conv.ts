// conv2d and its gradients, see shaders/conv2d.wgsl.
import type { Conv2dArgs } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';

const WG = 64;

function params(a: Conv2dArgs, hasBias: boolean): Params {
  return new Params().u(a.n).u(a.c).u(a.h).u(a.w).u(a.o).u(a.kh).u(a.kw).u(hasBias ? 1 : 0)
    .u(a.strideH).u(a.strideW).u(a.padTop).u(a.padLeft).u(a.oh).u(a.ow).u(0).u(0);
}

const flops = (a: Conv2dArgs) => 2 * a.n * a.o * a.oh * a.ow * a.c * a.kh * a.kw;

const describe = (a: Conv2dArgs) => `x[${a.n},${a.c},${a.h},${a.w}] w[${a.o},${a.c},${a.kh},${a.kw}] s${a.strideH}x${a.strideW} `
  + `pad ${a.padTop},${a.padBottom},${a.padLeft},${a.padRight} -> [${a.oh},${a.ow}]`;

export function conv2d(rt: WebGPURuntime, x: GPUStorage, w: GPUStorage, bias: GPUStorage | undefined, a: Conv2dArgs): GPUStorage {
  const n = a.n * a.o * a.oh * a.ow;
  const y = rt.alloc(n, 'float32');
  if (n === 0) return y;
  rt.dispatch({ file: 'conv2d', entry: 'conv2d', overrides: { WG } }, params(a, !!bias), [x, w, y, bias ?? w], rt.grid1D(n, WG), `conv2d ${describe(a)}`, flops(a));
  return y;
}

export function conv2dGradInput(rt: WebGPURuntime, gy: GPUStorage, w: GPUStorage, a: Conv2dArgs): GPUStorage {
  const n = a.n * a.c * a.h * a.w;
  const gx = rt.alloc(n, 'float32');
  if (n === 0) return gx;
  rt.dispatch({ file: 'conv2d', entry: 'conv2d_grad_input', overrides: { WG } }, params(a, false), [gy, w, gx], rt.grid1D(n, WG), `conv2dGradInput ${describe(a)}`, flops(a));
  return gx;
}

export function conv2dGradWeight(rt: WebGPURuntime, x: GPUStorage, gy: GPUStorage, a: Conv2dArgs): GPUStorage {
  const n = a.o * a.c * a.kh * a.kw;
  const gw = rt.alloc(n, 'float32');
  if (n === 0) return gw;
  rt.dispatch({ file: 'conv2d', entry: 'conv2d_grad_weight', overrides: { WG } }, params(a, false), [x, gy, gw], rt.grid1D(n, WG), `conv2dGradWeight ${describe(a)}`, flops(a));
  return gw;
}
