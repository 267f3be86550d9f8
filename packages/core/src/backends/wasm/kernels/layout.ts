// Strided copies (gatherStrided / scatterStridedInto) for 4-byte elements. The view's shape and
// element strides sit in memory as i32s (meta); the kernel walks rows r0..r1 of the view with an
// odometer over the leading dims (idx, per thread), copying each row with memory.copy when it is
// contiguous, else element by element (stride 0 broadcasts, negative strides flip).
import {
  br, brIf, block, forRange, get, i32, ifThen, loop, memory, set, tee,
  type Code, type ModuleBuilder,
} from '../emitter.ts';

export function emitLayout(m: ModuleBuilder): void {
  for (const scatter of [false, true]) {
    // gather: out[r, i] = x[off(r) + i*step];  scatter: x[off(r) + i*step] = out[r, i]
    const f = m.func(scatter ? 'scatter_strided' : 'gather_strided', { x: 'i32', out: 'i32', meta: 'i32', rank: 'i32', r0: 'i32', r1: 'i32', idx: 'i32' });
    const { x, out, meta, rank, r0, r1, idx } = f.p;
    const n = f.local('i32'), step = f.local('i32'), off = f.local('i32'), t = f.local('i32'), d = f.local('i32'), r = f.local('i32');
    const i = f.local('i32'), row = f.local('i32'), src = f.local('i32'), v = f.local('i32');
    const shape = (k: Code): Code => i32.load(i32.add(get(meta), i32.shl(k, i32.const(2))));
    const stride = (k: Code): Code => i32.load(i32.add(get(meta), i32.shl(i32.add(get(rank), k), i32.const(2))));
    const idxAt = (k: Code): Code => i32.add(get(idx), i32.shl(k, i32.const(2)));
    const last = i32.sub(get(rank), i32.const(1));
    f.body = [
      ...set(n, shape(last)), ...set(step, stride(last)),
      ...set(off, i32.load(i32.add(get(meta), i32.shl(i32.add(get(rank), get(rank)), i32.const(2))))),
      // Decompose r0 into the leading dims' multi-index.
      ...set(t, get(r0)),
      ...set(d, i32.sub(get(rank), i32.const(2))),
      ...block(loop(
        brIf(1, i32.lt_s(get(d), i32.const(0))),
        set(v, shape(get(d))),
        i32.store(idxAt(get(d)), i32.rem_s(get(t), get(v))),
        set(off, i32.add(get(off), i32.mul(i32.load(idxAt(get(d))), stride(get(d))))),
        set(t, i32.div_s(get(t), get(v))),
        set(d, i32.sub(get(d), i32.const(1))),
        br(0))),
      ...forRange(r, get(r0), get(r1), 1,
        set(row, i32.add(get(out), i32.shl(i32.mul(get(r), get(n)), i32.const(2)))),
        set(src, i32.add(get(x), i32.shl(get(off), i32.const(2)))),
        ifThen(i32.eq(get(step), i32.const(1)), [
          scatter ? memory.copy(get(src), get(row), i32.shl(get(n), i32.const(2))) : memory.copy(get(row), get(src), i32.shl(get(n), i32.const(2))),
        ], [
          forRange(i, i32.const(0), get(n), 1,
            scatter
              ? i32.store(i32.add(get(src), i32.shl(i32.mul(get(i), get(step)), i32.const(2))), i32.load(i32.add(get(row), i32.shl(get(i), i32.const(2)))))
              : i32.store(i32.add(get(row), i32.shl(get(i), i32.const(2))), i32.load(i32.add(get(src), i32.shl(i32.mul(get(i), get(step)), i32.const(2)))))),
        ]),
        // Odometer: advance the leading dims.
        set(d, i32.sub(get(rank), i32.const(2))),
        block(loop(
          brIf(1, i32.lt_s(get(d), i32.const(0))),
          set(off, i32.add(get(off), stride(get(d)))),
          brIf(1, i32.lt_s(tee(v, i32.add(i32.load(idxAt(get(d))), i32.const(1))), shape(get(d)))),
          i32.store(idxAt(get(d)), i32.const(0)),
          set(off, i32.sub(get(off), i32.mul(stride(get(d)), shape(get(d))))),
          set(d, i32.sub(get(d), i32.const(1))),
          br(0))),
        // The loop above exits with v = the new index of dim d when it did not wrap.
        ifThen(i32.ge_s(get(d), i32.const(0)), [i32.store(idxAt(get(d)), get(v))])),
    ];
  }
}
