// The Wilson score interval for a success rate. With the few episodes a closed-loop evaluation
// can afford (tens per task), the plain p +- z*sqrt(p(1-p)/n) interval collapses to a point at
// 0% or 100% and can leave [0, 1]; Wilson's stays inside [0, 1] and keeps a sensible width
// there (0 of 10 successes: 0-28%, not "0 +- 0").

/**
 * The interval [lo, hi] for `successes` out of `n` trials; z = 1.96 gives 95%.
 * n = 0 says nothing: [0, 1].
 */
export function wilson(successes: number, n: number, z = 1.96): [number, number] {
  if (!Number.isInteger(n) || n < 0) throw new Error(`wilson: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new Error(`wilson: successes must be an integer in 0..n (${n}), got ${successes}`);
  }
  if (!(z > 0) || !Number.isFinite(z)) throw new Error(`wilson: z must be a positive number, got ${z}`);
  if (n === 0) return [0, 1];
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // The ends are exactly 0 and 1 at 0 and n successes; rounding must not move them off.
  const lo = successes === 0 ? 0 : Math.max(0, centre - half);
  const hi = successes === n ? 1 : Math.min(1, centre + half);
  return [lo, hi];
}
