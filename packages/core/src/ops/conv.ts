// conv2d (stride, symmetric or asymmetric zero padding), nearest 2x upsampling and average
// pooling. The last two are strided views plus reductions, so they need no kernels of their own.
import type { Conv2dArgs } from '../backend.ts';
import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { expand, reshape, slice } from './layout.ts';
import { f32, record, requireFloat, sameBackend, wrap } from './record.ts';
import { mean, sum } from './reduce.ts';

export interface Conv2dOptions {
  stride?: number | [number, number];
  /** p, [ph, pw], or [top, bottom, left, right] (e.g. diffusers' F.pad(x, (0, 1, 0, 1)) is [0, 1, 0, 1]). */
  padding?: number | [number, number] | [number, number, number, number];
}

/** Cross-correlation of x [N, C, H, W] with w [O, C, KH, KW], plus bias [O]. */
export function conv2d(x0: Tensor, w0: Tensor, bias0?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const x = f32(x0), w = f32(w0), bias = bias0 ? f32(bias0) : bias0;
  requireFloat('conv2d', x, w);
  sameBackend('conv2d', x, w);
  if (x.rank !== 4 || w.rank !== 4 || x.shape[1] !== w.shape[1]) {
    throw new Error(`conv2d: input ${shapeStr(x.shape)} and weight ${shapeStr(w.shape)} must be [N, C, H, W] and [O, C, KH, KW]`);
  }
  const [sh, sw] = typeof opts.stride === 'number' || opts.stride === undefined ? [opts.stride ?? 1, opts.stride ?? 1] : opts.stride;
  const p = opts.padding ?? 0;
  const [pt, pb, pl, pr] = typeof p === 'number' ? [p, p, p, p] : p.length === 2 ? [p[0], p[0], p[1], p[1]] : p;
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [o, , kh, kw] = w.shape as [number, number, number, number];
  const oh = Math.floor((h + pt + pb - kh) / sh) + 1, ow = Math.floor((wd + pl + pr - kw) / sw) + 1;
  if (oh <= 0 || ow <= 0) throw new Error(`conv2d: kernel ${kh}x${kw} is larger than the padded input ${shapeStr(x.shape)}`);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== o)) throw new Error(`conv2d: bias ${shapeStr(bias.shape)} does not match ${o} output channels`);
  const args: Conv2dArgs = { n, c, h, w: wd, o, kh, kw, strideH: sh, strideW: sw, padTop: pt, padBottom: pb, padLeft: pl, padRight: pr, oh, ow };
  const b = x.backend;
  const out = wrap(b, b.conv2d(x.storage, w.storage, bias?.storage, args), [n, o, oh, ow]);
  return record(out, 'conv2d', bias ? [x, w, bias] : [x, w], (gy) => [
    x.requiresGrad ? wrap(b, b.conv2dGradInput(gy.storage, w.storage, args), x.shape) : null,
    w.requiresGrad ? wrap(b, b.conv2dGradWeight(x.storage, gy.storage, args), w.shape) : null,
    bias?.requiresGrad ? sum(gy, [0, 2, 3]) : null,
  ]);
}

/** Nearest-neighbour 2x upsampling of [N, C, H, W]: y[.., h, w] = x[.., h/2, w/2]. */
export function upsampleNearest2x(x: Tensor): Tensor {
  if (x.rank !== 4) throw new Error(`upsample_nearest2x: expected [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  return reshape(expand(reshape(x, [n, c, h, 1, w, 1]), [n, c, h, 2, w, 2]), [n, c, 2 * h, 2 * w]);
}

/** Average pooling with a square kernel equal to its stride (PyTorch floors the output size). */
export function avgPool2d(x: Tensor, kernel: number): Tensor {
  if (x.rank !== 4) throw new Error(`avg_pool2d: expected [N, C, H, W], got ${shapeStr(x.shape)}`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const oh = Math.floor(h / kernel), ow = Math.floor(w / kernel);
  const cropped = slice(slice(x, 2, 0, oh * kernel), 3, 0, ow * kernel);
  return mean(reshape(cropped, [n, c, oh, kernel, ow, kernel]), [3, 5]);
}
