// nn.Sequential: children named 0, 1, 2, ... applied in order, so state-dict keys match
// PyTorch's (an mlp2x_gelu projector is Sequential(Linear, GELU, Linear): "0.weight", "2.weight").
import type { Tensor } from '../../tensor.ts';
import { Module, ModuleList } from '../module.ts';

/** A module with a one-tensor forward, the kind Sequential chains. */
export interface UnaryModule extends Module { forward(x: Tensor): Tensor }

// Not generic over the child type: a stack mixes layers (Linear, GELU, ...), and at(i) can be
// narrowed by the caller where a specific layer is needed.
export class Sequential extends ModuleList<UnaryModule> {
  constructor(...modules: UnaryModule[]) { super(modules); }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.items) y = m.forward(y);
    return y;
  }
}
