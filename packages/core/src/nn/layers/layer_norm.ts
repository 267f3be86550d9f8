// nn.LayerNorm over the trailing normalizedShape dims, with optional affine weight and bias.
import type { Tensor } from '../../tensor.ts';
import { layerNorm } from '../../ops/normalization.ts';
import { constant, type InitOptions } from '../init.ts';
import { Module } from '../module.ts';

export interface LayerNormOptions extends InitOptions {
  eps?: number;
  /** Learnable weight (and bias) of normalizedShape; default true. */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, whether there is a bias; default true. */
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? this.registerParameter('weight', constant(this.normalizedShape, 1, opts)) : null;
    this.bias = affine && (opts.bias ?? true) ? this.registerParameter('bias', constant(this.normalizedShape, 0, opts)) : null;
  }

  forward(x: Tensor): Tensor { return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps); }
}
