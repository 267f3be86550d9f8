// Elementwise float32 kernels: broadcasting binary ops over a 2-d [outer, inner] form (each
// operand steps by its own outer stride and an inner stride of 0 or 1), unary ops and a few of
// their gradients, and the fused AdamW update. Each op is one vector expression; the scalar
// tail runs the same expression on a splat and keeps lane 0, so tails cannot drift.
import {
  f32, f32x4, forRange, get, i32, ifThen, set, v128,
  type Code, type Local, type ModuleBuilder,
} from '../emitter.ts';
import { at, mathTemps, splat, vecLoop, verf, vexp, vtanh, type ExpTemps, type MathTemps } from './simd.ts';

export const NATIVE_BINARY = ['add', 'sub', 'mul', 'div', 'max', 'min'] as const;
export type NativeBinary = typeof NATIVE_BINARY[number];
export const NATIVE_UNARY = ['neg', 'abs', 'sqrt', 'rsqrt', 'relu', 'square', 'reciprocal', 'exp', 'sigmoid', 'silu', 'tanh', 'gelu_tanh', 'gelu_erf'] as const;
export type NativeUnary = typeof NATIVE_UNARY[number];
export const NATIVE_UNARY_GRAD = ['neg', 'relu', 'square', 'exp', 'sigmoid', 'silu', 'tanh', 'gelu_tanh', 'gelu_erf'] as const;
export type NativeUnaryGrad = typeof NATIVE_UNARY_GRAD[number];

const BINARY: Record<NativeBinary, (a: Code, b: Code) => Code> = {
  add: f32x4.add, sub: f32x4.sub, mul: f32x4.mul, div: f32x4.div, max: f32x4.max, min: f32x4.min,
};

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI), GELU_C = 0.044715;
/** The argument of tanh in gelu_tanh: sqrt(2/pi) (x + 0.044715 x^3). */
const geluInner = (v: Code): Code => f32x4.mul(splat(SQRT_2_OVER_PI), f32x4.add(v, f32x4.mul(splat(GELU_C), f32x4.mul(v, f32x4.mul(v, v)))));

const sigmoid = (x: Code, T: ExpTemps): Code => f32x4.div(splat(1), f32x4.add(splat(1), vexp(f32x4.neg(x), T)));

/** op(x) on four lanes (also the matmul activation epilogue, kernels/gemm.ts). */
export function unaryOp(op: NativeUnary, x: Local, T: MathTemps): Code {
  const v = get(x);
  switch (op) {
    case 'neg': return f32x4.neg(v);
    case 'abs': return f32x4.abs(v);
    case 'sqrt': return f32x4.sqrt(v);
    case 'rsqrt': return f32x4.div(splat(1), f32x4.sqrt(v));
    case 'relu': return v128.and(v, f32x4.gt(v, v128.zero())); // x > 0 ? x : 0, NaN and -0 give +0
    case 'square': return f32x4.mul(v, v);
    case 'reciprocal': return f32x4.div(splat(1), v);
    case 'exp': return vexp(v, T);
    case 'sigmoid': return sigmoid(v, T);
    case 'silu': return f32x4.div(v, f32x4.add(splat(1), vexp(f32x4.neg(v), T)));
    case 'tanh': return vtanh(v, T);
    case 'gelu_tanh': return f32x4.mul(f32x4.mul(splat(0.5), v), f32x4.add(splat(1), vtanh(geluInner(v), T)));
    case 'gelu_erf': return f32x4.mul(f32x4.mul(splat(0.5), v), f32x4.add(splat(1), verf(f32x4.mul(v, splat(Math.SQRT1_2)), T)));
  }
}

/** gy * f'(x), with s a temporary. */
function unaryGradOp(op: NativeUnaryGrad, x: Local, gy: Local, s: Local, T: MathTemps): Code {
  const v = get(x), g = get(gy);
  switch (op) {
    case 'neg': return f32x4.neg(g);
    case 'relu': return v128.and(g, f32x4.gt(v, v128.zero()));
    case 'square': return f32x4.mul(f32x4.mul(splat(2), g), v);
    case 'exp': return f32x4.mul(g, vexp(v, T));
    case 'sigmoid': return [...set(s, sigmoid(v, T)), ...f32x4.mul(f32x4.mul(g, get(s)), f32x4.sub(splat(1), get(s)))];
    case 'silu': return [...set(s, sigmoid(v, T)),
      ...f32x4.mul(f32x4.mul(g, get(s)), f32x4.add(splat(1), f32x4.mul(v, f32x4.sub(splat(1), get(s)))))];
    case 'tanh': return [...set(s, vtanh(v, T)), ...f32x4.mul(g, f32x4.sub(splat(1), f32x4.mul(get(s), get(s))))];
    case 'gelu_tanh': // 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2)
      return [...set(s, vtanh(geluInner(v), T)), ...f32x4.mul(g, f32x4.add(f32x4.mul(splat(0.5), f32x4.add(splat(1), get(s))),
        f32x4.mul(f32x4.mul(f32x4.mul(splat(0.5), v), f32x4.sub(splat(1), f32x4.mul(get(s), get(s)))),
          f32x4.mul(splat(SQRT_2_OVER_PI), f32x4.add(splat(1), f32x4.mul(splat(3 * GELU_C), f32x4.mul(v, v)))))))];
    case 'gelu_erf': // cdf + x pdf
      return [...set(s, f32x4.mul(splat(0.5), f32x4.add(splat(1), verf(f32x4.mul(v, splat(Math.SQRT1_2)), T)))),
        ...f32x4.mul(g, f32x4.add(get(s), f32x4.mul(v, f32x4.mul(splat(1 / Math.sqrt(2 * Math.PI)), vexp(f32x4.mul(splat(-0.5), f32x4.mul(v, v)), T)))))];
  }
}

export function emitElementwise(m: ModuleBuilder): void {
  for (const op of NATIVE_BINARY) {
    // bin_<op>(a, b, out, outer, inner, aOuter, aInner, bOuter, bInner): strides in elements, inner strides 0 or 1.
    const f = m.func(`bin_${op}`, { a: 'i32', b: 'i32', out: 'i32', outer: 'i32', inner: 'i32', aos: 'i32', ais: 'i32', bos: 'i32', bis: 'i32' });
    const { a, b, out, outer, inner, aos, ais, bos, bis } = f.p;
    const o = f.local('i32'), c = f.local('i32'), ap = f.local('i32'), bp = f.local('i32'), op_ = f.local('i32'), va = f.local('v128'), vb = f.local('v128');
    const OP = BINARY[op];
    const lane0 = (v: Code): Code => f32x4.extract_lane(v, 0);
    const row = (av: Code, bv: Code, sa: Code, sb: Code): Code => vecLoop(c, get(inner),
      [v128.store(at(op_, get(c)), OP(av, bv))], [f32.store(at(op_, get(c)), lane0(OP(sa, sb)))]);
    const vA = v128.load(at(ap, get(c))), vB = v128.load(at(bp, get(c)));
    const sA = f32x4.splat(f32.load(at(ap, get(c)))), sB = f32x4.splat(f32.load(at(bp, get(c))));
    f.body = forRange(o, i32.const(0), get(outer), 1,
      set(ap, at(a, i32.mul(get(o), get(aos)))), set(bp, at(b, i32.mul(get(o), get(bos)))), set(op_, at(out, i32.mul(get(o), get(inner)))),
      set(va, v128.load32_splat(get(ap))), set(vb, v128.load32_splat(get(bp))),
      ifThen(get(ais), [ifThen(get(bis), [row(vA, vB, sA, sB)], [row(vA, get(vb), sA, get(vb))])],
        [ifThen(get(bis), [row(get(va), vB, get(va), sB)], [row(get(va), get(vb), get(va), get(vb))])]));
  }
  for (const op of NATIVE_UNARY) {
    const f = m.func(`un_${op}`, { x: 'i32', out: 'i32', n: 'i32' });
    const { x, out, n } = f.p;
    const c = f.local('i32'), v = f.local('v128');
    const T = mathTemps(f);
    f.body = vecLoop(c, get(n),
      [set(v, v128.load(at(x, get(c)))), v128.store(at(out, get(c)), unaryOp(op, v, T))],
      [set(v, f32x4.splat(f32.load(at(x, get(c))))), f32.store(at(out, get(c)), f32x4.extract_lane(unaryOp(op, v, T), 0))]);
  }
  for (const op of NATIVE_UNARY_GRAD) {
    const f = m.func(`ung_${op}`, { x: 'i32', gy: 'i32', out: 'i32', n: 'i32' });
    const { x, gy, out, n } = f.p;
    const c = f.local('i32'), v = f.local('v128'), g = f.local('v128'), s = f.local('v128');
    const T = mathTemps(f);
    f.body = vecLoop(c, get(n),
      [set(v, v128.load(at(x, get(c)))), set(g, v128.load(at(gy, get(c)))), v128.store(at(out, get(c)), unaryGradOp(op, v, g, s, T))],
      [set(v, f32x4.splat(f32.load(at(x, get(c))))), set(g, f32x4.splat(f32.load(at(gy, get(c))))),
        f32.store(at(out, get(c)), f32x4.extract_lane(unaryGradOp(op, v, g, s, T), 0))]);
  }
  {
    // adamw(p, g, m, v, n, beta1, 1-beta1, beta2, 1-beta2, lr/bc1, sqrt(bc2), 1-lr*wd, eps)
    const f = m.func('adamw', { p: 'i32', g: 'i32', m: 'i32', v: 'i32', n: 'i32',
      b1: 'f32', ob1: 'f32', b2: 'f32', ob2: 'f32', step: 'f32', sbc2: 'f32', decay: 'f32', eps: 'f32' });
    const P = f.p;
    const c = f.local('i32'), gv = f.local('v128'), mv = f.local('v128'), vv = f.local('v128');
    const sp = (l: Local): Code => f32x4.splat(get(l));
    const update = (load: (p: Local) => Code, store: (p: Local, v: Code) => Code): Code[] => [
      set(gv, load(P.g)),
      set(mv, f32x4.add(f32x4.mul(sp(P.b1), load(P.m)), f32x4.mul(sp(P.ob1), get(gv)))),
      set(vv, f32x4.add(f32x4.mul(sp(P.b2), load(P.v)), f32x4.mul(f32x4.mul(sp(P.ob2), get(gv)), get(gv)))),
      store(P.m, get(mv)), store(P.v, get(vv)),
      store(P.p, f32x4.sub(f32x4.mul(load(P.p), sp(P.decay)),
        f32x4.div(f32x4.mul(sp(P.step), get(mv)), f32x4.add(f32x4.div(f32x4.sqrt(get(vv)), sp(P.sbc2)), sp(P.eps))))),
    ];
    f.body = vecLoop(c, get(P.n),
      update((p) => v128.load(at(p, get(c))), (p, v) => v128.store(at(p, get(c)), v)),
      update((p) => f32x4.splat(f32.load(at(p, get(c)))), (p, v) => f32.store(at(p, get(c)), f32x4.extract_lane(v, 0))));
  }
}

/** rope_rows(x, cos, sin, out, r0, r1, h, t, d, inverse): rows of x [B,H,T,D] with cos/sin
 * [B,T,D], rotate_half form; each row pairs element i with i + d/2. */
export function emitRope(m: ModuleBuilder): void {
  const f = m.func('rope_rows', { x: 'i32', cos: 'i32', sin: 'i32', out: 'i32', r0: 'i32', r1: 'i32', h: 'i32', t: 'i32', d: 'i32', inverse: 'i32' });
  const { x, cos, sin, out, r0, r1, h, t, d, inverse } = f.p;
  const r = f.local('i32'), c = f.local('i32'), half = f.local('i32'), xp = f.local('i32'), op = f.local('i32'), cp = f.local('i32'), sp = f.local('i32');
  const a = f.local('v128'), b = f.local('v128');
  // Lane-generic body: load with `ld`, store with `st` (vector or splat-and-lane-0 scalar).
  const body = (ld: (p: Local, off: Code) => Code, st: (p: Local, off: Code, v: Code) => Code): Code[] => {
    const hi = i32.add(get(c), get(half));
    return [
      set(a, ld(xp, get(c))), set(b, ld(xp, hi)),
      ifThen(get(inverse), [
        st(op, get(c), f32x4.add(f32x4.mul(get(a), ld(cp, get(c))), f32x4.mul(get(b), ld(sp, hi)))),
        st(op, hi, f32x4.sub(f32x4.mul(get(b), ld(cp, hi)), f32x4.mul(get(a), ld(sp, get(c))))),
      ], [
        st(op, get(c), f32x4.sub(f32x4.mul(get(a), ld(cp, get(c))), f32x4.mul(get(b), ld(sp, get(c))))),
        st(op, hi, f32x4.add(f32x4.mul(get(b), ld(cp, hi)), f32x4.mul(get(a), ld(sp, hi)))),
      ]),
    ];
  };
  f.body = forRange(r, get(r0), get(r1), 1,
    // row r = (bi*h + hi)*t + ti; cos/sin row = bi*t + ti
    set(xp, at(x, i32.mul(get(r), get(d)))), set(op, at(out, i32.mul(get(r), get(d)))),
    set(cp, i32.add(i32.mul(i32.div_s(get(r), i32.mul(get(h), get(t))), get(t)), i32.rem_s(get(r), get(t)))),
    set(sp, at(sin, i32.mul(get(cp), get(d)))), set(cp, at(cos, i32.mul(get(cp), get(d)))),
    set(half, i32.shr_s(get(d), i32.const(1))),
    vecLoop(c, get(half),
      body((p, off) => v128.load(at(p, off)), (p, off, v) => v128.store(at(p, off), v)),
      body((p, off) => f32x4.splat(f32.load(at(p, off))), (p, off, v) => f32.store(at(p, off), f32x4.extract_lane(v, 0)))));
}
