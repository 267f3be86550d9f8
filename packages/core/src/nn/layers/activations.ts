// Activation functions as parameter-free modules, for Sequential stacks (e.g. mlp2x_gelu).
// Those a matmul can fuse name their epilogue, so Sequential runs Linear + act as one op.
import type { MatmulActivation } from '../../backend.ts';
import type { Tensor } from '../../tensor.ts';
import { gelu, relu, sigmoid, silu, tanh } from '../../ops/elementwise.ts';
import { Module } from '../module.ts';

export class GELU extends Module {
  /** 'none' is the exact erf form (PyTorch's default); 'tanh' is gelu_pytorch_tanh. */
  constructor(readonly approximate: 'none' | 'tanh' = 'none') { super(); }
  get epilogue(): MatmulActivation { return this.approximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf'; }
  forward(x: Tensor): Tensor { return gelu(x, this.approximate); }
}

export class SiLU extends Module {
  readonly epilogue: MatmulActivation = 'silu';
  forward(x: Tensor): Tensor { return silu(x); }
}

export class ReLU extends Module {
  readonly epilogue: MatmulActivation = 'relu';
  forward(x: Tensor): Tensor { return relu(x); }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor { return tanh(x); }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return sigmoid(x); }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}
