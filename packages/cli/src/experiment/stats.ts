// Numbers of the experiment report: mean and spread over seeds, and a paired bootstrap interval
// for the difference between two variants evaluated on the very same chains.
import { Rng } from '@reconvla/tabletop';

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean: no values');
  return xs.reduce((a, v) => a + v, 0) / xs.length;
}

/** Sample standard deviation (n - 1); 0 for a single value. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, v) => a + (v - m) ** 2, 0) / (xs.length - 1));
}

export interface PairedDifference {
  /** Mean over seeds and chains of (variant - reference). */
  mean: number;
  /** 95% percentile interval of that mean over bootstrap resamples. */
  lo: number;
  hi: number;
  /** Chains per seed that entered, and seeds. */
  chains: number;
  seeds: number;
}

/**
 * The mean paired difference and its 95% interval by a two-stage bootstrap: resample the seeds
 * (training runs vary with the seed), then the chains within each drawn seed (both variants ran
 * the same chains, so each chain is a pair). `diffs[s][c]` = variant minus reference on chain c of
 * seed s. Deterministic: the resampling draws come from `seed`.
 */
export function pairedBootstrap(diffs: readonly (readonly number[])[], resamples = 4000, seed = 0): PairedDifference {
  if (diffs.length === 0 || diffs.some((d) => d.length === 0)) throw new Error('pairedBootstrap: every seed needs at least one paired chain');
  for (const d of diffs) for (const v of d) if (!Number.isFinite(v)) throw new Error(`pairedBootstrap: a difference is not finite (${v})`);
  const rng = new Rng(seed);
  const means: number[] = [];
  for (let r = 0; r < resamples; r++) {
    let sum = 0, n = 0;
    for (let s = 0; s < diffs.length; s++) {
      const d = diffs[rng.int(diffs.length)]!;
      for (let c = 0; c < d.length; c++) { sum += d[rng.int(d.length)]!; n++; }
    }
    means.push(sum / n);
  }
  means.sort((a, b) => a - b);
  const at = (q: number): number => means[Math.min(means.length - 1, Math.max(0, Math.round(q * (means.length - 1))))]!;
  const all = diffs.flat();
  return { mean: mean(all), lo: at(0.025), hi: at(0.975), chains: Math.min(...diffs.map((d) => d.length)), seeds: diffs.length };
}
