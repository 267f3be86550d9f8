// SGD with momentum, dampening, Nesterov and (coupled, L2) weight decay, as torch.optim.SGD:
//   d = g + wd*p;  buf = d on the first step, else momentum*buf + (1-dampening)*d;
//   d = nesterov ? d + momentum*buf : buf;  p -= lr*d.
import { noGrad, tidy } from '../engine.ts';
import { add, mul } from '../ops/elementwise.ts';
import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { copyOf, Optimizer, stateTensor, type ParamState, type ParamsInput } from './optimizer.ts';

export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export type SGDState = ParamState & { momentum_buffer: Tensor };

export class SGD extends Optimizer<SGDHyper, SGDState> {
  constructor(params: ParamsInput<SGDHyper>, opts: Partial<SGDHyper> = {}) {
    const hyper: SGDHyper = {
      lr: opts.lr ?? 1e-3, momentum: opts.momentum ?? 0, dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0, nesterov: opts.nesterov ?? false,
    };
    if (hyper.nesterov && (hyper.momentum <= 0 || hyper.dampening !== 0)) throw new Error('SGD: Nesterov momentum requires a momentum and zero dampening');
    super(params, hyper);
  }

  step(): void {
    // The update is ordinary tensor arithmetic; assign() swaps in the result, and tidy frees
    // the temporaries (the swapped-in storages live on through their new owners).
    tidy(() => noGrad(() => {
      for (const group of this.paramGroups) {
        const { lr, momentum, dampening, weightDecay, nesterov } = group;
        for (const p of group.params) {
          const g = p.grad;
          if (!g) continue;
          if (g.shape.join() !== p.shape.join()) throw new Error(`SGD: gradient ${shapeStr(g.shape)} does not match parameter ${shapeStr(p.shape)}`);
          let d = weightDecay !== 0 ? add(g, mul(p, weightDecay)) : g;
          if (momentum !== 0) {
            const s = this.state.get(p);
            if (!s) this.state.set(p, { momentum_buffer: copyOf(d) });
            else s.momentum_buffer.assign(add(mul(s.momentum_buffer, momentum), mul(d, 1 - dampening)));
            const buf = this.state.get(p)!.momentum_buffer;
            d = nesterov ? add(d, mul(buf, momentum)) : buf;
          }
          p.assign(add(p, mul(d, -lr)));
        }
      }
    }));
  }

  protected stateFromDict(p: Tensor, entry: ParamState, where: string): SGDState {
    return { momentum_buffer: stateTensor(entry, 'momentum_buffer', p, where) };
  }
}
