// Ordered bin embeddings (ours, prompt.bin_fourier_bands > 0; a deviation from upstream, whose
// action tokens are plain rows of the embedding table). An action-tokenizer id enters the LLM as
// its table row plus a learned projection of the Fourier features of the value it stands for,
// [v, sin(2^k pi v), cos(2^k pi v)] for k < bands, as the 'fourier' state token is built. Why:
// with plain rows, a from-scratch 64-wide model must learn from data that bin 37 lies between
// bins 36 and 38; the explicit grounding tokens (the target's box centre, fed back before the
// actions) then carry "where" only as an arbitrary symbol, and the policy has to compare it with
// the gripper's Fourier-encoded position to choose a direction. Outputs are unchanged: the
// LM head still reads the plain (tied) table.
import { F, nn, tensor, type Tensor } from '@reconvla/core';
import type { InitOptions } from '@reconvla/siglip';
import type { ActionTokenizer } from './action_tokenizer.ts';

export class BinFeatures extends nn.Module {
  /** [vocab, 1 + 2 x bands]: each bin id's features, zero rows for every other id (not saved). */
  readonly features: Tensor;
  readonly proj: nn.Linear;

  constructor(tokenizer: ActionTokenizer, vocabSize: number, readonly bands: number, hidden: number, init: InitOptions = {}) {
    super();
    const width = 1 + 2 * bands, rows = new Float32Array(vocabSize * width);
    const [lo, hi] = tokenizer.tokenRange;
    for (let id = lo; id <= hi; id++) {
      const v = tokenizer.decodeId(id), r = rows.subarray(id * width, (id + 1) * width);
      r[0] = v;
      for (let k = 0; k < bands; k++) { r[1 + 2 * k] = Math.sin(2 ** k * Math.PI * v); r[2 + 2 * k] = Math.cos(2 ** k * Math.PI * v); }
    }
    this.features = this.registerBuffer('features', tensor(rows, [vocabSize, width], init.backend ? { backend: init.backend } : {}), false);
    // No bias: it would shift every id, not only the bins.
    this.proj = this.registerModule('proj', new nn.Linear(width, hidden, { ...init, bias: false }));
  }

  /** The input embedding table: `table` plus each bin id's projected features. */
  forward(table: Tensor): Tensor {
    return F.add(table, this.proj.forward(this.features));
  }
}
