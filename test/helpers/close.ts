// Element comparisons for tests, written so that NaN never passes: `a - b <= tol` is false for
// NaN, but a "worst error so far" loop written as `if (!(e <= worst)) worst = e` lets the next
// element overwrite a NaN, and a bound scaled by max|want| becomes Infinity as soon as one
// reference value is infinite (then every element passes). These helpers treat a NaN on
// either side as an infinite error, and an infinity as matching only the same infinity.

/** |have - want|, with NaN on either side and unequal infinities counted as Infinity. */
export function elementError(have: number, want: number): number {
  if (have === want) return 0; // exact values and equal infinities
  if (!Number.isFinite(have) || !Number.isFinite(want)) return Infinity; // NaN, or an infinity against anything else
  return Math.abs(have - want);
}

/** have matches want within atol + rtol * |want| (see elementError for NaN and infinities). */
export function isClose(have: number, want: number, atol: number, rtol: number): boolean {
  const e = elementError(have, want);
  // An infinite error fails even where atol + rtol * |want| is infinite too.
  return e === 0 || (Number.isFinite(e) && e <= atol + rtol * Math.abs(want));
}

/** The largest finite |x| (infinities and NaN would make every scaled bound meaningless). */
export function maxAbsFinite(xs: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]!)) m = Math.max(m, Math.abs(xs[i]!));
  return m;
}
