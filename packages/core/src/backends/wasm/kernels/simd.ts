// SIMD building blocks shared by the row and elementwise kernels: constants, horizontal
// reductions, the "vector body then scalar tail" loop, and exp on four lanes.
import {
  block, br, brIf, cat, f32, f32x4, get, i32, i32x4, ifThen, loop, set, v128,
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

/** Temporaries and hoisted constants for vexp, allocated once per function (the constants are
 * set in the function's prologue). (V8 rematerialises a constant splat at every use, so a vexp with
 * inline constants cost ~3x more.) */
export interface ExpTemps { x: Local; t: Local; fx: Local; y: Local; k: Record<string, Local> }

const LOG2E = 1.44269504088896341, C1 = 0.693359375, C2 = -2.12194440e-4;
const HI = 88.3762626647949, LO = -87.0, OVERFLOW = 88.72283935546875;
/** 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits. */
const MAGIC = 12582912;
const POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

export function expTemps(f: Func<Record<string, ValType>>): ExpTemps {
  const consts: Record<string, Code> = {
    log2e: splat(LOG2E), magic: splat(MAGIC), c1: splat(C1), c2: splat(C2), hi: splat(HI), lo: splat(LO), one: splat(1),
    i127: i32x4.splat(i32.const(127)), ...Object.fromEntries(POLY.map((p, i) => [`p${i}`, splat(p)])),
  };
  const k: Record<string, Local> = {};
  const init: Code[] = [];
  for (const [name, code] of Object.entries(consts)) { k[name] = f.local('v128'); init.push(set(k[name]!, code)); }
  f.prologue.push(...init);
  return { x: f.local('v128'), t: f.local('v128'), fx: f.local('v128'), y: f.local('v128'), k };
}

/** exp on four lanes (Cephes expf: n = round(x log2 e), r = x - n ln 2 in two parts, degree-6
 * polynomial, times 2^n built in the exponent bits), about 1 ulp. Lanes below -87 give exactly
 * 0 (so -inf masks vanish), lanes above 88.72 give +inf, NaN stays NaN. */
export function vexp(v: Code, T: ExpTemps): Code {
  const { x, t, fx, y, k } = T;
  const K = (name: string): Code => get(k[name]!);
  let p: Code = K('p0');
  for (let i = 1; i < POLY.length; i++) p = f32x4.add(f32x4.mul(p, get(t)), K(`p${i}`));
  return cat(
    set(x, v),
    set(t, f32x4.pmax(f32x4.pmin(get(x), K('hi')), K('lo'))), // NaN stays in t
    set(y, f32x4.add(f32x4.mul(get(t), K('log2e')), K('magic'))), // y's bits hold n in the low mantissa
    set(fx, f32x4.sub(get(y), K('magic'))),
    set(t, f32x4.sub(f32x4.sub(get(t), f32x4.mul(get(fx), K('c1'))), f32x4.mul(get(fx), K('c2')))),
    set(fx, i32x4.shl(i32x4.add(get(y), K('i127')), i32.const(23))), // 2^n
    set(y, f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(get(t), get(t))), get(t)), K('one'))),
    set(y, f32x4.mul(get(y), get(fx))),
    set(y, v128.andnot(get(y), f32x4.lt(get(x), K('lo')))),
    v128.bitselect(splat(Infinity), get(y), f32x4.gt(get(x), splat(OVERFLOW))),
  );
}

/** Scalar exp through the same vector code (lane 0), for row tails. */
export const sexp = (s: Code, T: ExpTemps): Code => f32x4.extract_lane(vexp(f32x4.splat(s), T), 0);

/** Extra temporaries for tanh and erf (which call vexp, so they need their own). */
export interface MathTemps extends ExpTemps { a: Local; b: Local; c: Local; d: Local }
export function mathTemps(f: Func<Record<string, ValType>>): MathTemps {
  return { ...expTemps(f), a: f.local('v128'), b: f.local('v128'), c: f.local('v128'), d: f.local('v128') };
}

/** Horner's rule on a v128 variable. */
function horner(coeffs: readonly number[], z: Code): Code {
  let p: Code = splat(coeffs[0]!);
  for (let i = 1; i < coeffs.length; i++) p = f32x4.add(f32x4.mul(p, z), splat(coeffs[i]!));
  return p;
}

const copySign = (mag: Code, from: Code): Code => v128.or(mag, v128.and(from, splat(-0)));

/** tanh on four lanes (Cephes tanhf): an odd polynomial for |x| < 0.625, else 1 - 2/(e^2|x| + 1). */
export function vtanh(v: Code, T: MathTemps): Code {
  const { a, b, c, d } = T;
  return cat(
    set(a, v), set(b, f32x4.abs(get(a))),
    set(c, copySign(f32x4.sub(splat(1), f32x4.div(splat(2), f32x4.add(vexp(f32x4.add(get(b), get(b)), T), splat(1)))), get(a))),
    set(d, f32x4.mul(get(a), get(a))),
    v128.bitselect(
      f32x4.add(f32x4.mul(f32x4.mul(horner([-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1], get(d)), get(d)), get(a)), get(a)),
      get(c), f32x4.lt(get(b), splat(0.625))),
  );
}

/** erf on four lanes: Cephes' series polynomial for |x| < 1 (1e-9 relative), Abramowitz-Stegun
 * 7.1.26 beyond (1.4e-7 absolute, ~2 ulp of erf there). The A-S branch (a division and an exp)
 * runs only when some lane needs it: GELU's inputs are mostly below 1. */
export function verf(v: Code, T: MathTemps): Code {
  const { a, b, c, d } = T;
  return cat(
    set(a, v), set(b, f32x4.abs(get(a))),
    set(d, f32x4.mul(get(a), get(a))),
    set(c, f32x4.mul(get(a), horner([7.853861353153693e-5, -8.010193625184903e-4, 5.188327685732524e-3, -2.685381193529856e-2, 1.128358514861418e-1,
      -3.761262582423300e-1, 1.128379165726710], get(d)))),
    // NaN lanes fail both compares and keep the series value (NaN as well).
    ifThen(v128.any_true(f32x4.ge(get(b), splat(1))), [
      set(d, f32x4.div(splat(1), f32x4.add(splat(1), f32x4.mul(splat(0.3275911), get(b))))),
      set(d, f32x4.sub(splat(1), f32x4.mul(f32x4.mul(horner([1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592], get(d)), get(d)),
        vexp(f32x4.neg(f32x4.mul(get(b), get(b))), T)))),
      set(c, v128.bitselect(get(c), copySign(get(d), get(a)), f32x4.lt(get(b), splat(1)))),
    ]),
    get(c),
  );
}
