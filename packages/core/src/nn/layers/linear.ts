// nn.Linear: y = x @ weight^T + bias, weight [out, in] as PyTorch stores it.
import type { MatmulActivation } from '../../backend.ts';
import type { Tensor } from '../../tensor.ts';
import { linear } from '../../ops/linalg.ts';
import { fanInUniform, kaimingUniform, type InitOptions } from '../init.ts';
import { Module } from '../module.ts';

export interface LinearOptions extends InitOptions { bias?: boolean }

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    // PyTorch's reset_parameters: kaiming_uniform(a=sqrt(5)) for the weight, then the bias.
    this.weight = this.registerParameter('weight', kaimingUniform([outFeatures, inFeatures], Math.sqrt(5), opts));
    this.bias = (opts.bias ?? true) ? this.registerParameter('bias', fanInUniform([outFeatures], inFeatures, opts)) : this.registerParameter('bias', null);
  }

  /** With `activation`, act(x W^T + b) in the matmul's epilogue (see ops/linalg.ts linear). */
  forward(x: Tensor, activation?: MatmulActivation): Tensor {
    return linear(x, this.weight, this.bias, activation ? { activation } : {});
  }
}
