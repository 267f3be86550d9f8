// Upstream's ActionTokenizer: continuous values in [min, max] become one of n_bins uniform bins,
// counted down from the top of the vocabulary (token = vocab_size - digitize(clip(a), bins)), so
// actions reuse the least frequent text ids. Decoding returns the bin centre. float64 like numpy.
import type { ActionTokenizerConfig } from './config.ts';

export class ActionTokenizer {
  /** numpy.linspace(min, max, n_bins). */
  readonly bins: Float64Array;
  /** (bins[:-1] + bins[1:]) / 2: n_bins - 1 values. */
  readonly binCenters: Float64Array;

  constructor(readonly config: ActionTokenizerConfig) {
    const { nBins, minAction, maxAction } = config;
    this.bins = new Float64Array(nBins);
    const step = (maxAction - minAction) / (nBins - 1);
    for (let i = 0; i < nBins; i++) this.bins[i] = minAction + i * step;
    this.bins[nBins - 1] = maxAction; // linspace sets the endpoint exactly
    this.binCenters = new Float64Array(nBins - 1);
    for (let i = 0; i + 1 < nBins; i++) this.binCenters[i] = (this.bins[i]! + this.bins[i + 1]!) / 2;
  }

  /** The smallest and largest id an action can become. */
  get tokenRange(): [number, number] { return [this.config.vocabSize - this.config.nBins, this.config.vocabSize - 1]; }

  /** numpy.digitize(x, bins) (right=False): i such that bins[i-1] <= x < bins[i]. */
  private digitize(x: number): number {
    let lo = 0, hi = this.bins.length; // first index with bins[i] > x
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.bins[mid]! > x) hi = mid; else lo = mid + 1;
    }
    return lo;
  }

  encodeValue(a: number): number {
    const clipped = Math.min(Math.max(a, this.config.minAction), this.config.maxAction);
    return this.config.vocabSize - this.digitize(clipped);
  }

  decodeId(id: number): number {
    const i = Math.min(Math.max(this.config.vocabSize - id - 1, 0), this.binCenters.length - 1);
    return this.binCenters[i]!;
  }

  encode(values: ArrayLike<number>): number[] { return Array.from(values, (v) => this.encodeValue(v)); }
  decode(ids: ArrayLike<number>): Float32Array { return Float32Array.from(ids, (id) => this.decodeId(id)); }
}
