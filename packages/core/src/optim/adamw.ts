// AdamW (Loshchilov & Hutter) with PyTorch's semantics and defaults, through the backend's fused
// kernel: decoupled decay p *= 1 - lr*wd, then p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
import { keep } from '../engine.ts';
import { shapeStr } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { ensureExclusive, Optimizer, stateNumber, stateTensor, type ParamState, type ParamsInput } from './optimizer.ts';

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface AdamWOptions extends Partial<AdamWHyper> {
  /** PyTorch's betas tuple; overrides beta1/beta2. */
  betas?: readonly [number, number];
}

/** PyTorch's state names: exp_avg is m, exp_avg_sq is v; step counts this parameter's updates. */
export type AdamWState = ParamState & { step: number; exp_avg: Tensor; exp_avg_sq: Tensor };

export class AdamW extends Optimizer<AdamWHyper, AdamWState> {
  constructor(params: ParamsInput<AdamWHyper>, opts: AdamWOptions = {}) {
    super(params, {
      lr: opts.lr ?? 1e-3,
      beta1: opts.betas?.[0] ?? opts.beta1 ?? 0.9,
      beta2: opts.betas?.[1] ?? opts.beta2 ?? 0.999,
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 1e-2,
    });
  }

  step(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const g = p.grad;
        if (!g) continue; // no gradient this step: no update, no decay, step count unchanged (as PyTorch)
        if (g.shape.join() !== p.shape.join()) throw new Error(`AdamW: gradient ${shapeStr(g.shape)} does not match parameter ${shapeStr(p.shape)}`);
        let s = this.state.get(p);
        if (!s) {
          const b = p.backend;
          // Lazily created, kept out of tidy scopes: they live as long as the optimizer.
          s = {
            step: 0,
            exp_avg: keep(Tensor.fromStorage(b, b.zeros(p.size, 'float32'), p.shape)),
            exp_avg_sq: keep(Tensor.fromStorage(b, b.zeros(p.size, 'float32'), p.shape)),
          };
          this.state.set(p, s);
        }
        s.step++;
        ensureExclusive(p);
        p.backend.adamwInPlace(p.storage, g.storage, s.exp_avg.storage, s.exp_avg_sq.storage, {
          lr: group.lr, beta1: group.beta1, beta2: group.beta2, eps: group.eps, weightDecay: group.weightDecay, step: s.step,
        });
      }
    }
  }

  protected stateFromDict(p: Tensor, entry: ParamState, where: string): AdamWState {
    const step = stateNumber(entry, 'step', where);
    const exp_avg = stateTensor(entry, 'exp_avg', p, where);
    const exp_avg_sq = stateTensor(entry, 'exp_avg_sq', p, where);
    return { step, exp_avg, exp_avg_sq };
  }
}
