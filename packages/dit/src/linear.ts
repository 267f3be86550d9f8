// A Linear layer as a Module: weight [out, in] and optional bias, PyTorch's layout and
// default uniform(-1/sqrt(in), 1/sqrt(in)) init (checkpoints overwrite it).
import { F, Module, tidy, type Backend, type Generator, type Tensor } from '@reconvla/core';

export interface InitOptions { backend?: Backend; generator?: Generator }

/** uniform(-bound, bound) of the given shape. */
export function uniformParam(shape: number[], bound: number, opts: InitOptions): Tensor {
  return tidy(() => F.sub(F.mul(F.rand(shape, { ...opts }), 2 * bound), bound));
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: InitOptions & { bias?: boolean } = {}) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', uniformParam([outFeatures, inFeatures], bound, opts));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformParam([outFeatures], bound, opts));
  }
  forward(x: Tensor): Tensor { return F.linear(x, this.weight, this.bias); }
}
