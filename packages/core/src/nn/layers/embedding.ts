// nn.Embedding: a lookup table [num, dim] indexed by int32 ids of any shape.
import type { Tensor } from '../../tensor.ts';
import { embedding } from '../../ops/indexing.ts';
import { normal, type InitOptions } from '../init.ts';
import { Module } from '../module.ts';

export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: InitOptions = {}) {
    super();
    this.weight = this.registerParameter('weight', normal([numEmbeddings, embeddingDim], 0, 1, opts));
  }

  /** ids [...] (int32) -> [..., embeddingDim]. */
  forward(ids: Tensor): Tensor { return embedding(ids, this.weight); }
}
