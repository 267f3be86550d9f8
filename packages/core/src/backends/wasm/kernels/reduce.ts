// Float32 reductions over the middle axis of [outer, len, inner]. Sums are compensated (Kahan,
// per lane), so a float32 accumulator stays within an ulp or two of the reference's float64 sum
// however long the axis; max/min use the IEEE-strict instructions, so NaN propagates as in the
// reference.
//   rowreduce_<op>(x, out, r0, r1, len): inner == 1, one output per row of len.
//   colreduce_<op>(x, out, comp, o0, o1, len, inner, c0, c1): inner > 1, columns c0..c1 of each
//     output row accumulate row by row (comp holds the sums' compensations, inner floats).
import {
  f32, f32x4, f64, forRange, get, i32, set, v128,
  type Code, type Local, type ModuleBuilder,
} from '../emitter.ts';
import { at, splat, vecLoop } from './simd.ts';

export const NATIVE_REDUCE = ['sum', 'max', 'min'] as const;
export type NativeReduce = typeof NATIVE_REDUCE[number];

export function emitReduce(m: ModuleBuilder): void {
  for (const op of NATIVE_REDUCE) {
    const vop = op === 'max' ? f32x4.max : f32x4.min, sop = op === 'max' ? f32.max : f32.min;
    {
      const f = m.func(`rowreduce_${op}`, { x: 'i32', out: 'i32', r0: 'i32', r1: 'i32', len: 'i32' });
      const { x, out, r0, r1, len } = f.p;
      const r = f.local('i32'), c = f.local('i32'), xp = f.local('i32');
      const acc = f.local('v128'), comp = f.local('v128'), y = f.local('v128'), t = f.local('v128');
      const s = f.local('f32'), sc = f.local('f32'), ys = f.local('f32'), ts = f.local('f32'), total = f.local('f64');
      const lane = (v: Local, k: number): Code => f64.promote_f32(f32x4.extract_lane(get(v), k));
      f.body = forRange(r, get(r0), get(r1), 1,
        set(xp, at(x, i32.mul(get(r), get(len)))),
        ...(op === 'sum' ? [
          set(acc, v128.zero()), set(comp, v128.zero()), set(s, f32.const(0)), set(sc, f32.const(0)),
          vecLoop(c, get(len), [
            set(y, f32x4.sub(v128.load(at(xp, get(c))), get(comp))), set(t, f32x4.add(get(acc), get(y))),
            set(comp, f32x4.sub(f32x4.sub(get(t), get(acc)), get(y))), set(acc, get(t)),
          ], [
            set(ys, f32.sub(f32.load(at(xp, get(c))), get(sc))), set(ts, f32.add(get(s), get(ys))),
            set(sc, f32.sub(f32.sub(get(ts), get(s)), get(ys))), set(s, get(ts)),
          ]),
          // Lanes, tail and compensations combined in float64.
          set(total, f64.add(f64.add(f64.add(lane(acc, 0), lane(acc, 1)), f64.add(lane(acc, 2), lane(acc, 3))), f64.promote_f32(get(s)))),
          set(total, f64.sub(get(total), f64.add(f64.add(f64.add(lane(comp, 0), lane(comp, 1)), f64.add(lane(comp, 2), lane(comp, 3))), f64.promote_f32(get(sc))))),
          f32.store(at(out, get(r)), f32.demote_f64(get(total))),
        ] : [
          set(acc, f32x4.splat(f32.load(get(xp)))), set(s, f32.load(get(xp))),
          vecLoop(c, get(len), [set(acc, vop(get(acc), v128.load(at(xp, get(c)))))], [set(s, sop(get(s), f32.load(at(xp, get(c)))))]),
          f32.store(at(out, get(r)), sop(sop(sop(f32x4.extract_lane(get(acc), 0), f32x4.extract_lane(get(acc), 1)),
            sop(f32x4.extract_lane(get(acc), 2), f32x4.extract_lane(get(acc), 3))), get(s))),
        ]));
    }
    {
      const f = m.func(`colreduce_${op}`, { x: 'i32', out: 'i32', comp: 'i32', o0: 'i32', o1: 'i32', len: 'i32', inner: 'i32', c0: 'i32', c1: 'i32' });
      const { x, out, comp, o0, o1, len, inner, c0, c1 } = f.p;
      const o = f.local('i32'), j = f.local('i32'), c = f.local('i32'), xp = f.local('i32'), op_ = f.local('i32'), cp = f.local('i32'), n = f.local('i32');
      const y = f.local('v128'), t = f.local('v128'), a = f.local('v128');
      const ys = f.local('f32'), ts = f.local('f32'), as = f.local('f32');
      const kahanV: Code[] = [
        set(a, v128.load(at(op_, get(c)))),
        set(y, f32x4.sub(v128.load(at(xp, get(c))), v128.load(at(cp, get(c))))), set(t, f32x4.add(get(a), get(y))),
        v128.store(at(cp, get(c)), f32x4.sub(f32x4.sub(get(t), get(a)), get(y))), v128.store(at(op_, get(c)), get(t)),
      ];
      const kahanS: Code[] = [
        set(as, f32.load(at(op_, get(c)))),
        set(ys, f32.sub(f32.load(at(xp, get(c))), f32.load(at(cp, get(c))))), set(ts, f32.add(get(as), get(ys))),
        f32.store(at(cp, get(c)), f32.sub(f32.sub(get(ts), get(as)), get(ys))), f32.store(at(op_, get(c)), get(ts)),
      ];
      f.body = forRange(o, get(o0), get(o1), 1,
        // Row pointers start at column c0; the output row is initialised from x's first row.
        set(n, i32.sub(get(c1), get(c0))),
        set(op_, at(out, i32.add(i32.mul(get(o), get(inner)), get(c0)))),
        set(xp, at(x, i32.add(i32.mul(i32.mul(get(o), get(len)), get(inner)), get(c0)))),
        set(cp, at(comp, get(c0))),
        vecLoop(c, get(n), [v128.store(at(op_, get(c)), v128.load(at(xp, get(c)))), v128.store(at(cp, get(c)), v128.zero())],
          [f32.store(at(op_, get(c)), f32.load(at(xp, get(c)))), f32.store(at(cp, get(c)), f32.const(0))]),
        forRange(j, i32.const(1), get(len), 1,
          set(xp, i32.add(get(xp), i32.shl(get(inner), i32.const(2)))),
          op === 'sum'
            ? vecLoop(c, get(n), kahanV, kahanS)
            : vecLoop(c, get(n), [v128.store(at(op_, get(c)), vop(v128.load(at(op_, get(c))), v128.load(at(xp, get(c)))))],
              [f32.store(at(op_, get(c)), sop(f32.load(at(op_, get(c))), f32.load(at(xp, get(c)))))])));
    }
  }
  void splat;
}
