// nn.Dropout: active in training mode only (module.train() / module.eval()).
import type { Tensor } from '../../tensor.ts';
import { dropout, type Generator } from '../../ops/random.ts';
import { Module } from '../module.ts';

export interface DropoutOptions { generator?: Generator }

export class Dropout extends Module {
  constructor(readonly p = 0.5, private readonly opts: DropoutOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor { return dropout(x, this.p, this.training, this.opts.generator); }
}
