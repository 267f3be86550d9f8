// nn.GroupNorm over [N, C, ...]: statistics per sample and group, per-channel affine.
import type { Tensor } from '../../tensor.ts';
import { groupNorm } from '../../ops/normalization.ts';
import { constant, type InitOptions } from '../init.ts';
import { Module } from '../module.ts';

export interface GroupNormOptions extends InitOptions { eps?: number; affine?: boolean }

export class GroupNorm extends Module {
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(readonly numGroups: number, readonly numChannels: number, opts: GroupNormOptions = {}) {
    super();
    if (numChannels % numGroups !== 0) throw new Error(`GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', constant([numChannels], 1, opts)) : null;
    this.bias = affine ? this.registerParameter('bias', constant([numChannels], 0, opts)) : null;
  }

  forward(x: Tensor): Tensor { return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps); }
}
