// nn.Sequential: children named 0, 1, 2, ... applied in order, so state-dict keys match
// PyTorch's (an mlp2x_gelu projector is Sequential(Linear, GELU, Linear): "0.weight", "2.weight").
import type { Tensor } from '../../tensor.ts';
import { Module, ModuleList } from '../module.ts';
import { GELU, ReLU, SiLU } from './activations.ts';
import { Linear } from './linear.ts';

/** A module with a one-tensor forward, the kind Sequential chains. */
export interface UnaryModule extends Module { forward(x: Tensor): Tensor }

// Not generic over the child type: a stack mixes layers (Linear, GELU, ...), and at(i) can be
// narrowed by the caller where a specific layer is needed.
export class Sequential extends ModuleList<UnaryModule> {
  constructor(...modules: UnaryModule[]) { super(modules); }

  /** Applies the children in order; a Linear followed by GELU/SiLU/ReLU runs as one linear with
   * that activation (one fused dispatch under noGrad; the same two ops when recording). */
  forward(x: Tensor): Tensor {
    let y = x;
    const items = this.items;
    for (let i = 0; i < items.length; i++) {
      const m = items[i]!, next = items[i + 1];
      if (m instanceof Linear && (next instanceof GELU || next instanceof SiLU || next instanceof ReLU)) {
        y = m.forward(y, next.epilogue);
        i++;
      } else {
        y = m.forward(y);
      }
    }
    return y;
  }
}
