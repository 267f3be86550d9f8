// SIMD building blocks shared by the row and elementwise kernels: constants, horizontal
// reductions, the "vector body then scalar tail" loop, and exp on four lanes.
import {
  block, br, brIf, cat, f32, f32x4, get, i32, i32x4, loop, set, v128,
  type Code, type Func, type Local, type ValType,
} from '../emitter.ts';

export const splat = (x: number): Code => f32x4.splat(f32.const(x));

export const hsum = (v: Code, t: Local): Code => cat(set(t, v),
  f32.add(f32.add(f32x4.extract_lane(get(t), 0), f32x4.extract_lane(get(t), 1)), f32.add(f32x4.extract_lane(get(t), 2), f32x4.extract_lane(get(t), 3))));
export const hmax = (v: Code, t: Local): Code => cat(set(t, v),
  f32.max(f32.max(f32x4.extract_lane(get(t), 0), f32x4.extract_lane(get(t), 1)), f32.max(f32x4.extract_lane(get(t), 2), f32x4.extract_lane(get(t), 3))));

/** for (c = 0; c + 4 <= n; c += 4) vec(c); for (; c < n; c++) tail(c). */
export function vecLoop(c: Local, n: Code, vec: Code[], tail: Code[]): Code {
  return cat(
    set(c, i32.const(0)),
    block(loop(brIf(1, i32.gt_s(i32.add(get(c), i32.const(4)), n)), ...vec, set(c, i32.add(get(c), i32.const(4))), br(0))),
    block(loop(brIf(1, i32.ge_s(get(c), n)), ...tail, set(c, i32.add(get(c), i32.const(1))), br(0))),
  );
}

/** Byte address of element `i` (an i32 expression) of the f32 array at `base`. */
export const at = (base: Local, i: Code): Code => i32.add(get(base), i32.shl(i, i32.const(2)));

/** Temporaries for vexp, allocated once per function. */
export interface ExpTemps { x: Local; t: Local; fx: Local; y: Local }
export function expTemps(f: Func<Record<string, ValType>>): ExpTemps {
  return { x: f.local('v128'), t: f.local('v128'), fx: f.local('v128'), y: f.local('v128') };
}

const LOG2E = 1.44269504088896341, C1 = 0.693359375, C2 = -2.12194440e-4;
const HI = 88.3762626647949, LO = -87.0;

/** exp on four lanes (Cephes expf: range reduction by ln 2, degree-6 polynomial, 2^n by
 * exponent bits), about 1 ulp. Lanes below -87 give exactly 0 (so -inf masks vanish),
 * lanes above 88.72 give +inf, NaN stays NaN. */
export function vexp(v: Code, T: ExpTemps): Code {
  const { x, t, fx, y } = T;
  const poly = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
  let p: Code = splat(poly[0]!);
  for (let i = 1; i < poly.length; i++) p = f32x4.add(f32x4.mul(p, get(t)), splat(poly[i]!));
  const pow2n = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(get(fx)), i32x4.splat(i32.const(127))), i32.const(23));
  return cat(
    set(x, v),
    set(t, f32x4.max(f32x4.min(get(x), splat(HI)), splat(LO))),
    set(fx, f32x4.nearest(f32x4.mul(get(t), splat(LOG2E)))),
    set(t, f32x4.sub(f32x4.sub(get(t), f32x4.mul(get(fx), splat(C1))), f32x4.mul(get(fx), splat(C2)))),
    set(y, f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(get(t), get(t))), get(t)), splat(1))),
    set(y, f32x4.mul(get(y), pow2n)),
    set(y, v128.andnot(get(y), f32x4.lt(get(x), splat(LO)))),
    v128.bitselect(splat(Infinity), get(y), f32x4.gt(get(x), splat(88.72283935546875))),
  );
}

/** Scalar exp through the same vector code (lane 0), for row tails. */
export const sexp = (s: Code, T: ExpTemps): Code => f32x4.extract_lane(vexp(f32x4.splat(s), T), 0);
