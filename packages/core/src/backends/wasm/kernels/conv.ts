// im2col and its transpose col2im for NCHW convolution as GEMM, over a channel range of one
// image (threads split channels, so col2im's sums never race). col is [C*KH*KW, OH*OW] with rows
// `pitch` floats apart (OH*OW, or G*OH*OW when G images share one col, each its own columns):
// row (c, ky, kx) holds x[c, oy*sh + ky - pt, ox*sw + kx - pl] (0 in the padding). For each row
// the valid output columns [oxs, oxe) are computed once, so the inner loop has no bounds test;
// with stride 1 a row segment is contiguous in x too and moves four floats at a time.
import {
  block, br, brIf, f32, f32x4, forRange, get, i32, ifThen, loop, memory, select, set, v128,
  type Code, type ModuleBuilder,
} from '../emitter.ts';

const PARAMS = {
  x: 'i32', col: 'i32', ic0: 'i32', ic1: 'i32', h: 'i32', w: 'i32', kh: 'i32', kw: 'i32',
  sh: 'i32', sw: 'i32', pt: 'i32', pl: 'i32', oh: 'i32', ow: 'i32', pitch: 'i32',
} as const;

export function emitConv(m: ModuleBuilder): void {
  for (const transpose of [false, true]) {
    const f = m.func(transpose ? 'col2im' : 'im2col', PARAMS);
    const { x, col, ic0, ic1, h, w, kh, kw, sh, sw, pt, pl, oh, ow, pitch } = f.p;
    const ic = f.local('i32'), ky = f.local('i32'), kx = f.local('i32'), oy = f.local('i32'), ox = f.local('i32');
    const iy = f.local('i32'), dst = f.local('i32'), src = f.local('i32'), oxs = f.local('i32'), oxe = f.local('i32'), t = f.local('i32');
    const seg = i32.shl(get(ow), i32.const(2)); // bytes of one output row
    // oxs = first ox with ox*sw + kx - pl >= 0; oxe = one past the last with it < w.
    const range: Code[] = [
      set(t, i32.sub(get(pl), get(kx))),
      set(oxs, select(i32.div_s(i32.add(get(t), i32.sub(get(sw), i32.const(1))), get(sw)), i32.const(0), i32.gt_s(get(t), i32.const(0)))),
      set(t, i32.add(i32.sub(get(w), i32.const(1)), get(t))),
      set(oxe, select(i32.add(i32.div_s(get(t), get(sw)), i32.const(1)), i32.const(0), i32.ge_s(get(t), i32.const(0)))),
      set(oxe, select(get(ow), get(oxe), i32.gt_s(get(oxe), get(ow)))),
    ];
    const colAt = i32.add(get(dst), i32.shl(get(ox), i32.const(2)));
    const xAt = i32.add(get(src), i32.shl(i32.sub(i32.add(i32.mul(get(ox), get(sw)), get(kx)), get(pl)), i32.const(2)));
    const inner = transpose
      ? f32.store(xAt, f32.add(f32.load(xAt), f32.load(colAt)))
      : f32.store(colAt, f32.load(xAt));
    const inner4 = transpose
      ? v128.store(xAt, f32x4.add(v128.load(xAt), v128.load(colAt)))
      : v128.store(colAt, v128.load(xAt));
    // im2col zeroes the columns before oxs and from oxe on (the padding), one float at a time:
    // there are at most pad of them, where a bulk fill per row cost more than the row's copy.
    const zeroUpTo = (to: Code): Code => block(loop(brIf(1, i32.ge_s(get(ox), to)), f32.store(colAt, f32.const(0)), set(ox, i32.add(get(ox), i32.const(1))), br(0)));
    // ox from oxs: by fours while stride 1 leaves them contiguous in x, then one at a time.
    // im2col ends a run of four or more with one vector at oxe - 4, overlapping the last one
    // (it stores the same values again; col2im's sums cannot): the small maps' 8-float rows
    // then take two vector moves, not one and three scalar ones.
    const byFours = block(loop(brIf(1, i32.gt_s(i32.add(get(ox), i32.const(4)), get(oxe))), inner4, set(ox, i32.add(get(ox), i32.const(4))), br(0)));
    const segment: Code[] = [
      ...(transpose ? [] : [set(ox, i32.const(0)), zeroUpTo(get(oxs)), set(ox, get(oxe)), zeroUpTo(get(ow))]),
      set(ox, get(oxs)),
      ifThen(i32.eq(get(sw), i32.const(1)), transpose ? [byFours] : [
        ifThen(i32.ge_s(i32.sub(get(oxe), get(oxs)), i32.const(4)), [byFours, set(ox, i32.sub(get(oxe), i32.const(4))), inner4, set(ox, get(oxe))]),
      ]),
      block(loop(brIf(1, i32.ge_s(get(ox), get(oxe))), inner, set(ox, i32.add(get(ox), i32.const(1))), br(0))),
    ];
    // A row of padding (iy outside the image): zeros, four at a time (memory.fill's call costs
    // more than a short row's stores).
    const zeroRow: Code[] = [
      set(ox, i32.const(0)),
      block(loop(brIf(1, i32.gt_s(i32.add(get(ox), i32.const(4)), get(ow))), v128.store(colAt, v128.zero()), set(ox, i32.add(get(ox), i32.const(4))), br(0))),
      zeroUpTo(get(ow)),
    ];
    f.body = [
      // col2im accumulates: clear this channel range of x first.
      ...(transpose ? memory.fill(i32.add(get(x), i32.shl(i32.mul(i32.mul(get(ic0), get(h)), get(w)), i32.const(2))), i32.const(0),
        i32.shl(i32.mul(i32.mul(i32.sub(get(ic1), get(ic0)), get(h)), get(w)), i32.const(2))) : []),
      ...forRange(ic, get(ic0), get(ic1), 1,
        forRange(ky, i32.const(0), get(kh), 1,
          forRange(kx, i32.const(0), get(kw), 1,
            ...range,
            // dst = start of col row (ic, ky, kx)
            set(dst, i32.add(get(col), i32.shl(i32.mul(i32.add(i32.mul(i32.add(i32.mul(get(ic), get(kh)), get(ky)), get(kw)), get(kx)), get(pitch)), i32.const(2)))),
            forRange(oy, i32.const(0), get(oh), 1,
              set(iy, i32.sub(i32.add(i32.mul(get(oy), get(sh)), get(ky)), get(pt))),
              ifThen(i32.and(i32.ge_s(get(iy), i32.const(0)), i32.lt_s(get(iy), get(h))), [
                set(src, i32.add(get(x), i32.shl(i32.mul(i32.add(i32.mul(get(ic), get(h)), get(iy)), get(w)), i32.const(2)))),
                ...segment,
              ], transpose ? [] : zeroRow),
              set(dst, i32.add(get(dst), seg)))))),
    ];
  }
}
