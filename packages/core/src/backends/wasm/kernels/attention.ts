// The row kernels between the GEMMs of attention (see ops/attention.ts):
//   attn_probs: scores S (QB rows of tk) -> probabilities P in place. s = S*scale + mask, keys past
//     the causal limit are hidden. Forward (mode 0): softmax and lse = max + log(sum); a row with
//     every key hidden gives P = 0 and lse = -inf. Backward (mode 1): P = exp(s - lse), from the
//     saved lse, as flash attention recomputes it.
//   attn_ds: dS = P * (dP - D) * scale in place of dP, with D = dO . O per row.
import {
  cat, f32, f32x4, f64, forRange, get, i32, ifThen, memory, select, set, v128, call,
  type Code, type ModuleBuilder,
} from '../emitter.ts';
import { at, expTemps, hmax, hsum, sexp, splat, vecLoop, vexp } from './simd.ts';

export function emitAttention(m: ModuleBuilder): void {
  const logFn = m.importFunc('log', ['f64'], 'f64');
  {
    // attn_probs(S, rows, tk, scale, mask, ldm, lim0, lse, mode): S rows hold tk keys; row r may see
    // keys j < clamp(lim0 + r + 1, 0, tk); the mask's rows are ldm apart.
    const f = m.func('attn_probs', { S: 'i32', rows: 'i32', tk: 'i32', scale: 'f32', mask: 'i32', ldm: 'i32', lim0: 'i32', lse: 'i32', mode: 'i32' });
    const { S, rows, tk, scale, mask, ldm, lim0, lse, mode } = f.p;
    const r = f.local('i32'), c = f.local('i32'), sp = f.local('i32'), mp = f.local('i32'), len = f.local('i32');
    const v = f.local('v128'), t = f.local('v128'), e = f.local('v128'), vm = f.local('v128');
    const s = f.local('f32'), mx = f.local('f32'), sum = f.local('f32'), x = f.local('f32');
    const T = expTemps(f);
    const ld = v128.load(at(sp, get(c))), sl = f32.load(at(sp, get(c)));
    const withMask = (vec: boolean): Code => vec
      ? f32x4.add(f32x4.mul(ld, f32x4.splat(get(scale))), select(v128.load(at(mp, get(c))), v128.zero(), get(mask)))
      : f32.add(f32.mul(sl, get(scale)), select(f32.load(at(mp, get(c))), f32.const(0), get(mask)));
    const zeroFrom = (from: Code): Code => memory.fill(at(sp, from), i32.const(0), i32.shl(i32.sub(get(tk), from), i32.const(2)));
    f.body = forRange(r, i32.const(0), get(rows), 1,
      set(sp, at(S, i32.mul(get(r), get(tk)))),
      // With no mask, mp points at S itself (loaded, then ignored by the select).
      set(mp, select(at(mask, i32.mul(get(r), get(ldm))), get(sp), get(mask))),
      set(len, i32.add(i32.add(get(lim0), get(r)), i32.const(1))),
      set(len, select(get(len), i32.const(0), i32.gt_s(get(len), i32.const(0)))),
      set(len, select(get(tk), get(len), i32.gt_s(get(len), get(tk)))),
      // pass 1: s = S*scale + mask, stored back; row max
      set(v, splat(-Infinity)), set(s, f32.const(-Infinity)),
      vecLoop(c, get(len), [set(e, withMask(true)), v128.store(at(sp, get(c)), get(e)), set(v, f32x4.pmax(get(v), get(e)))],
        [set(x, withMask(false)), f32.store(at(sp, get(c)), get(x)), set(s, f32.max(get(s), get(x)))]),
      set(mx, f32.max(hmax(get(v), t), get(s))),
      ifThen(get(mode), [
        set(mx, f32.load(at(lse, get(r)))),
      ]),
      ifThen(f32.eq(get(mx), f32.const(-Infinity)), [
        zeroFrom(i32.const(0)),
        ifThen(i32.eqz(get(mode)), [f32.store(at(lse, get(r)), f32.const(-Infinity))]),
      ], [
        // pass 2: P = exp(s - max) (forward, then normalised) or exp(s - lse) (backward)
        set(vm, f32x4.splat(get(mx))), set(v, v128.zero()), set(s, f32.const(0)),
        vecLoop(c, get(len), [set(e, vexp(f32x4.sub(ld, get(vm)), T)), v128.store(at(sp, get(c)), get(e)), set(v, f32x4.add(get(v), get(e)))],
          [set(x, sexp(f32.sub(sl, get(mx)), T)), f32.store(at(sp, get(c)), get(x)), set(s, f32.add(get(s), get(x)))]),
        zeroFrom(get(len)),
        ifThen(i32.eqz(get(mode)), [
          set(sum, f32.add(hsum(get(v), t), get(s))),
          f32.store(at(lse, get(r)), f32.add(get(mx), f32.demote_f64(call(logFn, f64.promote_f32(get(sum)))))),
          set(sum, f32.div(f32.const(1), get(sum))), set(vm, f32x4.splat(get(sum))),
          vecLoop(c, get(len), [v128.store(at(sp, get(c)), f32x4.mul(ld, get(vm)))], [f32.store(at(sp, get(c)), f32.mul(sl, get(sum)))]),
        ]),
      ]));
  }
  {
    // attn_ds(P, dP, dO, O, rows, tk, dv, scale)
    const f = m.func('attn_ds', { P: 'i32', dP: 'i32', dO: 'i32', O: 'i32', rows: 'i32', tk: 'i32', dv: 'i32', scale: 'f32' });
    const { P, dP, dO, O, rows, tk, dv, scale } = f.p;
    const r = f.local('i32'), c = f.local('i32'), pp = f.local('i32'), dp = f.local('i32'), gp = f.local('i32'), op = f.local('i32');
    const v = f.local('v128'), t = f.local('v128'), vd = f.local('v128'), vs = f.local('v128'), s = f.local('f32'), D = f.local('f32');
    f.body = forRange(r, i32.const(0), get(rows), 1,
      set(pp, at(P, i32.mul(get(r), get(tk)))), set(dp, at(dP, i32.mul(get(r), get(tk)))),
      set(gp, at(dO, i32.mul(get(r), get(dv)))), set(op, at(O, i32.mul(get(r), get(dv)))),
      set(v, v128.zero()), set(s, f32.const(0)),
      vecLoop(c, get(dv), [set(v, f32x4.add(get(v), f32x4.mul(v128.load(at(gp, get(c))), v128.load(at(op, get(c))))))],
        [set(s, f32.add(get(s), f32.mul(f32.load(at(gp, get(c))), f32.load(at(op, get(c))))))]),
      set(D, f32.add(hsum(get(v), t), get(s))),
      set(vd, f32x4.splat(get(D))), set(vs, f32x4.splat(get(scale))),
      vecLoop(c, get(tk),
        [v128.store(at(dp, get(c)), f32x4.mul(f32x4.mul(v128.load(at(pp, get(c))), f32x4.sub(v128.load(at(dp, get(c))), get(vd))), get(vs)))],
        [f32.store(at(dp, get(c)), f32.mul(f32.mul(f32.load(at(pp, get(c))), f32.sub(f32.load(at(dp, get(c))), get(D))), get(scale)))]));
  }
  void cat;
}
