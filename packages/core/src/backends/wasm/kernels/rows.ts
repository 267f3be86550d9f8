// Row-wise fused kernels over [rows, cols], each for rows r0..r1 (threads split the rows):
// softmax / log-softmax and gradient, layer/RMS normalisation and gradient, cross-entropy and
// gradient. Vector loops over four columns with a scalar tail; row statistics in float32 with
// four partial sums (the CPU reference uses float64; parity holds to ~1e-6 relative).
import {
  cat, f32, f32x4, f64, forRange, get, i32, ifThen, memory, set, v128, call,
  type Code, type FuncRef, type Local, type ModuleBuilder,
} from '../emitter.ts';
import { at, expTemps, hmax, hsum, sexp, splat, vecLoop, vexp } from './simd.ts';

/** log through the host's Math.log (once per row, so the call cost does not matter). */
const logOf = (logFn: FuncRef, x: Code): Code => f32.demote_f64(call(logFn, f64.promote_f32(x)));

export function emitRows(m: ModuleBuilder): void {
  const logFn = m.importFunc('log', ['f64'], 'f64');

  /** Emits: rowMax = max over the row at `base` (uses v, s, c temps). */
  const rowMax = (base: Local, cols: Local, c: Local, v: Local, s: Local, t: Local, out: Local): Code => cat(
    set(v, splat(-Infinity)), set(s, f32.const(-Infinity)),
    vecLoop(c, get(cols), [set(v, f32x4.pmax(get(v), v128.load(at(base, get(c)))))], [set(s, f32.max(get(s), f32.load(at(base, get(c)))))]),
    set(out, f32.max(hmax(get(v), t), get(s))),
  );

  // softmax_rows(x, out, r0, r1, cols, log)
  {
    const f = m.func('softmax_rows', { x: 'i32', out: 'i32', r0: 'i32', r1: 'i32', cols: 'i32', log: 'i32' });
    const { x, out, r0, r1, cols, log } = f.p;
    const r = f.local('i32'), c = f.local('i32'), xp = f.local('i32'), op = f.local('i32');
    const v = f.local('v128'), t = f.local('v128'), vm = f.local('v128'), s = f.local('f32'), mx = f.local('f32'), sum = f.local('f32'), e = f.local('v128');
    const T = expTemps(f);
    f.body = forRange(r, get(r0), get(r1), 1,
      set(xp, at(x, i32.mul(get(r), get(cols)))), set(op, at(out, i32.mul(get(r), get(cols)))),
      rowMax(xp, cols, c, v, s, t, mx),
      set(vm, f32x4.splat(get(mx))), set(v, v128.zero()), set(s, f32.const(0)),
      vecLoop(c, get(cols),
        [set(e, vexp(f32x4.sub(v128.load(at(xp, get(c))), get(vm)), T)), set(v, f32x4.add(get(v), get(e))), v128.store(at(op, get(c)), get(e))],
        [set(sum, sexp(f32.sub(f32.load(at(xp, get(c))), get(mx)), T)), set(s, f32.add(get(s), get(sum))), f32.store(at(op, get(c)), get(sum))]),
      set(sum, f32.add(hsum(get(v), t), get(s))),
      ifThen(get(log), [
        set(mx, f32.add(get(mx), logOf(logFn, get(sum)))), set(vm, f32x4.splat(get(mx))),
        vecLoop(c, get(cols), [v128.store(at(op, get(c)), f32x4.sub(v128.load(at(xp, get(c))), get(vm)))],
          [f32.store(at(op, get(c)), f32.sub(f32.load(at(xp, get(c))), get(mx)))]),
      ], [
        set(sum, f32.div(f32.const(1), get(sum))), set(vm, f32x4.splat(get(sum))),
        vecLoop(c, get(cols), [v128.store(at(op, get(c)), f32x4.mul(v128.load(at(op, get(c))), get(vm)))],
          [f32.store(at(op, get(c)), f32.mul(f32.load(at(op, get(c))), get(sum)))]),
      ]));
  }

  // softmax_grad_rows(y, gy, out, r0, r1, cols, log)
  {
    const f = m.func('softmax_grad_rows', { y: 'i32', gy: 'i32', out: 'i32', r0: 'i32', r1: 'i32', cols: 'i32', log: 'i32' });
    const { y, gy, out, r0, r1, cols, log } = f.p;
    const r = f.local('i32'), c = f.local('i32'), yp = f.local('i32'), gp = f.local('i32'), op = f.local('i32');
    const v = f.local('v128'), t = f.local('v128'), vs = f.local('v128'), s = f.local('f32');
    const T = expTemps(f);
    const ld = (p: Local) => v128.load(at(p, get(c))), sl = (p: Local) => f32.load(at(p, get(c)));
    f.body = forRange(r, get(r0), get(r1), 1,
      set(yp, at(y, i32.mul(get(r), get(cols)))), set(gp, at(gy, i32.mul(get(r), get(cols)))), set(op, at(out, i32.mul(get(r), get(cols)))),
      set(v, v128.zero()), set(s, f32.const(0)),
      ifThen(get(log), [
        vecLoop(c, get(cols), [set(v, f32x4.add(get(v), ld(gp)))], [set(s, f32.add(get(s), sl(gp)))]),
        set(s, f32.add(hsum(get(v), t), get(s))), set(vs, f32x4.splat(get(s))),
        vecLoop(c, get(cols), [v128.store(at(op, get(c)), f32x4.sub(ld(gp), f32x4.mul(vexp(ld(yp), T), get(vs))))],
          [f32.store(at(op, get(c)), f32.sub(sl(gp), f32.mul(sexp(sl(yp), T), get(s))))]),
      ], [
        vecLoop(c, get(cols), [set(v, f32x4.add(get(v), f32x4.mul(ld(gp), ld(yp))))], [set(s, f32.add(get(s), f32.mul(sl(gp), sl(yp))))]),
        set(s, f32.add(hsum(get(v), t), get(s))), set(vs, f32x4.splat(get(s))),
        vecLoop(c, get(cols), [v128.store(at(op, get(c)), f32x4.mul(ld(yp), f32x4.sub(ld(gp), get(vs))))],
          [f32.store(at(op, get(c)), f32.mul(sl(yp), f32.sub(sl(gp), get(s))))]),
      ]));
  }

  // normalize_rows(x, y, mean, rstd, r0, r1, cols, eps, rms)
  {
    const f = m.func('normalize_rows', { x: 'i32', y: 'i32', mean: 'i32', rstd: 'i32', r0: 'i32', r1: 'i32', cols: 'i32', eps: 'f32', rms: 'i32' });
    const { x, y, mean, rstd, r0, r1, cols, eps, rms } = f.p;
    const r = f.local('i32'), c = f.local('i32'), xp = f.local('i32'), yp = f.local('i32');
    const v = f.local('v128'), t = f.local('v128'), vm = f.local('v128'), d = f.local('v128'), s = f.local('f32'), mu = f.local('f32'), rs = f.local('f32'), ds = f.local('f32');
    const n = f32.convert_i32_s(get(cols));
    f.body = forRange(r, get(r0), get(r1), 1,
      set(xp, at(x, i32.mul(get(r), get(cols)))), set(yp, at(y, i32.mul(get(r), get(cols)))),
      set(mu, f32.const(0)),
      ifThen(i32.eqz(get(rms)), [
        set(v, v128.zero()), set(s, f32.const(0)),
        vecLoop(c, get(cols), [set(v, f32x4.add(get(v), v128.load(at(xp, get(c)))))], [set(s, f32.add(get(s), f32.load(at(xp, get(c)))))]),
        set(mu, f32.div(f32.add(hsum(get(v), t), get(s)), n)),
      ]),
      set(vm, f32x4.splat(get(mu))), set(v, v128.zero()), set(s, f32.const(0)),
      vecLoop(c, get(cols), [set(d, f32x4.sub(v128.load(at(xp, get(c))), get(vm))), set(v, f32x4.add(get(v), f32x4.mul(get(d), get(d))))],
        [set(ds, f32.sub(f32.load(at(xp, get(c))), get(mu))), set(s, f32.add(get(s), f32.mul(get(ds), get(ds))))]),
      set(rs, f32.div(f32.const(1), f32.sqrt(f32.add(f32.div(f32.add(hsum(get(v), t), get(s)), n), get(eps))))),
      f32.store(at(mean, get(r)), get(mu)), f32.store(at(rstd, get(r)), get(rs)),
      set(d, f32x4.splat(get(rs))),
      vecLoop(c, get(cols), [v128.store(at(yp, get(c)), f32x4.mul(f32x4.sub(v128.load(at(xp, get(c))), get(vm)), get(d)))],
        [f32.store(at(yp, get(c)), f32.mul(f32.sub(f32.load(at(xp, get(c))), get(mu)), get(rs)))]));
  }

  // normalize_grad_rows(xhat, rstd, gy, out, r0, r1, cols, rms)
  {
    const f = m.func('normalize_grad_rows', { xh: 'i32', rstd: 'i32', gy: 'i32', out: 'i32', r0: 'i32', r1: 'i32', cols: 'i32', rms: 'i32' });
    const { xh, rstd, gy, out, r0, r1, cols, rms } = f.p;
    const r = f.local('i32'), c = f.local('i32'), xp = f.local('i32'), gp = f.local('i32'), op = f.local('i32');
    const v = f.local('v128'), w = f.local('v128'), t = f.local('v128'), s = f.local('f32'), sx = f.local('f32');
    const mg = f.local('f32'), mgx = f.local('f32'), rs = f.local('f32'), vmg = f.local('v128'), vmgx = f.local('v128'), vrs = f.local('v128');
    const n = f32.convert_i32_s(get(cols));
    const ld = (p: Local) => v128.load(at(p, get(c))), sl = (p: Local) => f32.load(at(p, get(c)));
    f.body = forRange(r, get(r0), get(r1), 1,
      set(xp, at(xh, i32.mul(get(r), get(cols)))), set(gp, at(gy, i32.mul(get(r), get(cols)))), set(op, at(out, i32.mul(get(r), get(cols)))),
      set(v, v128.zero()), set(w, v128.zero()), set(s, f32.const(0)), set(sx, f32.const(0)),
      vecLoop(c, get(cols), [set(v, f32x4.add(get(v), ld(gp))), set(w, f32x4.add(get(w), f32x4.mul(ld(gp), ld(xp))))],
        [set(s, f32.add(get(s), sl(gp))), set(sx, f32.add(get(sx), f32.mul(sl(gp), sl(xp))))]),
      set(mg, f32.div(f32.add(hsum(get(v), t), get(s)), n)),
      ifThen(get(rms), [set(mg, f32.const(0))]),
      set(mgx, f32.div(f32.add(hsum(get(w), t), get(sx)), n)),
      set(rs, f32.load(at(rstd, get(r)))),
      set(vmg, f32x4.splat(get(mg))), set(vmgx, f32x4.splat(get(mgx))), set(vrs, f32x4.splat(get(rs))),
      vecLoop(c, get(cols), [v128.store(at(op, get(c)), f32x4.mul(get(vrs), f32x4.sub(f32x4.sub(ld(gp), get(vmg)), f32x4.mul(ld(xp), get(vmgx)))))],
        [f32.store(at(op, get(c)), f32.mul(get(rs), f32.sub(f32.sub(sl(gp), get(mg)), f32.mul(sl(xp), get(mgx)))))]));
  }

  // ce_rows(logits, targets, loss, valid, r0, r1, cols, ignore) and ce_grad_rows(..., gLoss, out, ...)
  for (const grad of [false, true]) {
    const f = grad
      ? m.func('ce_grad_rows', { x: 'i32', tg: 'i32', gl: 'i32', out: 'i32', r0: 'i32', r1: 'i32', cols: 'i32', ignore: 'i32' })
      : m.func('ce_rows', { x: 'i32', tg: 'i32', gl: 'i32', out: 'i32', r0: 'i32', r1: 'i32', cols: 'i32', ignore: 'i32' });
    // For ce_rows, gl is the loss array and out the valid array.
    const { x, tg, gl, out, r0, r1, cols, ignore } = f.p;
    const r = f.local('i32'), c = f.local('i32'), xp = f.local('i32'), op = f.local('i32'), tgt = f.local('i32');
    const v = f.local('v128'), t = f.local('v128'), vm = f.local('v128'), e = f.local('v128'), s = f.local('f32'), mx = f.local('f32'), sum = f.local('f32'), g = f.local('f32');
    const T = expTemps(f);
    const sumExp = (store: boolean): Code => cat(
      set(vm, f32x4.splat(get(mx))), set(v, v128.zero()), set(s, f32.const(0)),
      vecLoop(c, get(cols),
        [set(e, vexp(f32x4.sub(v128.load(at(xp, get(c))), get(vm)), T)), set(v, f32x4.add(get(v), get(e))), ...(store ? [v128.store(at(op, get(c)), get(e))] : [])],
        [set(g, sexp(f32.sub(f32.load(at(xp, get(c))), get(mx)), T)), set(s, f32.add(get(s), get(g))), ...(store ? [f32.store(at(op, get(c)), get(g))] : [])]),
      set(sum, f32.add(hsum(get(v), t), get(s))));
    const body: Code[] = grad ? [
      set(op, at(out, i32.mul(get(r), get(cols)))),
      ifThen(i32.eq(get(tgt), get(ignore)), [memory.fill(get(op), i32.const(0), i32.shl(get(cols), i32.const(2)))], [
        rowMax(xp, cols, c, v, s, t, mx),
        sumExp(true),
        set(g, f32.load(at(gl, get(r)))),
        set(sum, f32.div(get(g), get(sum))), set(vm, f32x4.splat(get(sum))),
        vecLoop(c, get(cols), [v128.store(at(op, get(c)), f32x4.mul(v128.load(at(op, get(c))), get(vm)))],
          [f32.store(at(op, get(c)), f32.mul(f32.load(at(op, get(c))), get(sum)))]),
        f32.store(at(op, get(tgt)), f32.sub(f32.load(at(op, get(tgt))), get(g))),
      ]),
    ] : [
      ifThen(i32.eq(get(tgt), get(ignore)), [f32.store(at(gl, get(r)), f32.const(0)), f32.store(at(out, get(r)), f32.const(0))], [
        rowMax(xp, cols, c, v, s, t, mx),
        sumExp(false),
        f32.store(at(gl, get(r)), f32.sub(f32.add(get(mx), logOf(logFn, get(sum))), f32.load(at(xp, get(tgt))))),
        f32.store(at(out, get(r)), f32.const(1)),
      ]),
    ];
    f.body = forRange(r, get(r0), get(r1), 1,
      set(xp, at(x, i32.mul(get(r), get(cols)))),
      set(tgt, i32.load(at(tg, get(r)))),
      ...body);
  }
}
