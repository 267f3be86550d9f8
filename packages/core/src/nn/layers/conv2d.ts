// nn.Conv2d: cross-correlation of [N, C, H, W] with weight [out, in, kh, kw], plus bias [out].
import type { Tensor } from '../../tensor.ts';
import { conv2d, type Conv2dOptions } from '../../ops/conv.ts';
import { fanInUniform, kaimingUniform, type InitOptions } from '../init.ts';
import { Module } from '../module.ts';

export interface Conv2dLayerOptions extends InitOptions, Conv2dOptions { bias?: boolean }

export class Conv2d extends Module {
  readonly kernelSize: readonly [number, number];
  readonly stride: number | [number, number];
  readonly padding: NonNullable<Conv2dOptions['padding']>;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | readonly [number, number], opts: Conv2dLayerOptions = {}) {
    super();
    this.kernelSize = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : [kernelSize[0], kernelSize[1]];
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const [kh, kw] = this.kernelSize;
    this.weight = this.registerParameter('weight', kaimingUniform([outChannels, inChannels, kh, kw], Math.sqrt(5), opts));
    this.bias = (opts.bias ?? true)
      ? this.registerParameter('bias', fanInUniform([outChannels], inChannels * kh * kw, opts))
      : this.registerParameter('bias', null);
  }

  forward(x: Tensor): Tensor { return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding }); }
}
