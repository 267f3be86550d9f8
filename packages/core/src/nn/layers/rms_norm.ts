// RMSNorm over the last dim with a weight only (Qwen2RMSNorm): weight * x / sqrt(mean(x^2) + eps).
import type { Tensor } from '../../tensor.ts';
import { rmsNorm } from '../../ops/normalization.ts';
import { constant, type InitOptions } from '../init.ts';
import { Module } from '../module.ts';

export interface RMSNormOptions extends InitOptions { eps?: number }

export class RMSNorm extends Module {
  readonly eps: number;
  readonly weight: Tensor;

  constructor(readonly dim: number, opts: RMSNormOptions = {}) {
    super();
    this.eps = opts.eps ?? 1e-6;
    this.weight = this.registerParameter('weight', constant([dim], 1, opts));
  }

  forward(x: Tensor): Tensor { return rmsNorm(x, this.weight, this.eps); }
}
