// GEMM in WebAssembly SIMD, BLIS style: C[M,N] (+)= A[M,K] B[K,N] for one matrix, rows m0..m1
// and columns n0..n1 of C.
//   for each K block (KC) : pack B[KC, N] into 8-column panels      (B panel: L1, block: L2/L3)
//     for each M block (MC): pack A[MC, KC] into 4-row panels       (A block: L2)
//       for each 8-column panel, for each 4-row panel: 4x8 micro-kernel over KC
// The micro-kernel keeps a 4x8 tile of C in 8 v128 registers; per k it loads two vectors of B,
// splats four scalars of A and does 8 multiply-adds. Why 4x8 and not 6x8: V8 11.3's TurboFan
// schedules all the A broadcasts of an iteration at its top, so 6x8 needs 12 + 2 + 6 xmm
// registers (x64 gives wasm 15) and spills four accumulators; 4x8 fits (measured ~20% faster).
// For the same reason the k loop is not unrolled (unrolled, the loads hoist and spill).
// Operands are addressed by (row stride, column stride) in bytes, so packing absorbs
// transposes. The first K block writes C (plus an optional bias), later blocks accumulate;
// with `accumulate` set every block adds to C (C += A B, for gradient sums).
// Activation epilogue: after the last K block of an MC x NC block of C, a second pass applies
// the activation to that block while it is still in L2 (128 KiB), with the unary kernels' SIMD
// formulas. In the micro-kernel it would need the exp temporaries and constants (~16 more v128
// locals) where the 4x8 tile already uses all the registers V8 gives wasm.
import type { MatmulActivation } from '../../../backend.ts';
import {
  brIf, call, cat, f32, f32x4, forRange, get, i32, ifThen, loop, memory, select, set, tee, v128,
  type Code, type ModuleBuilder, type FuncRef,
} from '../emitter.ts';
import { unaryOp } from './elementwise.ts';
import { at, mathTemps, vecLoop } from './simd.ts';

export const MR = 4, NR = 8;

/** Cache blocking: K block (KC), rows of A per packed block (MC), columns of B per packed block (NC). */
export interface GemmBlocking { kc: number; mc: number; nc: number }
/** Packed A (MC x KC, 128 KiB) and packed B (KC x NC, 256 KiB) together fit Zen 3's 512 KiB L2.
 * In paired runs (same process, alternating) NC from 128 to 4096 and MC from 64 to 128 were
 * within 5% of each other: the micro-kernel, not the cache, sets the speed. */
export const DEFAULT_BLOCKING: GemmBlocking = { kc: 256, mc: 128, nc: 256 };

/** Bias modes of the epilogue. */
export const BIAS_NONE = 0, BIAS_PER_COLUMN = 1, BIAS_PER_ROW = 2;

/** Activation codes of the epilogue (the gemm `act` argument): 0 is none, then index + 1. */
export const GEMM_ACTIVATIONS: readonly MatmulActivation[] = ['gelu_erf', 'gelu_tanh', 'silu', 'relu'];
export const actCode = (act: MatmulActivation | undefined): number => (act ? GEMM_ACTIVATIONS.indexOf(act) + 1 : 0);

/** Scratch bytes one thread needs for an n-column GEMM: packed A block, packed B block, tile. */
export function gemmScratchBytes(n: number, b: GemmBlocking = DEFAULT_BLOCKING): { packA: number; packB: number; tile: number } {
  const nc = Math.min(b.nc, Math.ceil(n / NR) * NR);
  return { packA: b.mc * b.kc * 4, packB: b.kc * nc * 4, tile: MR * NR * 4 };
}

const imin = (a: Code, b: Code): Code => select(a, b, i32.lt_s(a, b));

/** a*b + c, fused when relaxed SIMD is available. */
export function madd(relaxed: boolean, a: Code, b: Code, c: Code): Code {
  return relaxed ? f32x4.relaxed_madd(a, b, c) : f32x4.add(c, f32x4.mul(a, b));
}

export interface GemmFns { gemm: FuncRef; gemv: FuncRef }

export function emitGemm(m: ModuleBuilder, relaxed: boolean, blocking: GemmBlocking = DEFAULT_BLOCKING): GemmFns {
  const { kc: KC, mc: MC, nc: NC } = blocking;
  // packB: src at (pc, jc); kc rows, nc columns -> ceil(nc/8) panels of [kc][8], zero-padded.
  const pb = m.func('packB', { src: 'i32', rs: 'i32', cs: 'i32', kc: 'i32', nc: 'i32', dst: 'i32' }, undefined, false);
  {
    const { src, rs, cs, kc, nc, dst } = pb.p;
    const jp = pb.local('i32'), p = pb.local('i32'), j = pb.local('i32'), s = pb.local('i32'), d = pb.local('i32');
    pb.body = forRange(jp, i32.const(0), get(nc), NR,
      set(s, i32.add(get(src), i32.mul(get(jp), get(cs)))),
      ifThen(i32.and(i32.eq(get(cs), i32.const(4)), i32.ge_s(i32.sub(get(nc), get(jp)), i32.const(NR))), [
        forRange(p, i32.const(0), get(kc), 1,
          v128.store(get(dst), v128.load(get(s))),
          v128.store(get(dst), v128.load(get(s), 16), 16),
          set(s, i32.add(get(s), get(rs))),
          set(dst, i32.add(get(dst), i32.const(32)))),
      ], [
        memory.fill(get(dst), i32.const(0), i32.mul(get(kc), i32.const(32))),
        forRange(j, i32.const(0), imin(i32.const(NR), i32.sub(get(nc), get(jp))), 1,
          set(d, i32.add(get(dst), i32.shl(get(j), i32.const(2)))),
          set(s, i32.add(get(src), i32.mul(i32.add(get(jp), get(j)), get(cs)))),
          forRange(p, i32.const(0), get(kc), 1,
            f32.store(get(d), f32.load(get(s))),
            set(s, i32.add(get(s), get(rs))),
            set(d, i32.add(get(d), i32.const(32))))),
        set(dst, i32.add(get(dst), i32.mul(get(kc), i32.const(32)))),
      ]));
  }

  // packA: src at (ic, pc); mc rows, kc columns -> ceil(mc/MR) panels of [kc][MR], zero-padded.
  // When A's rows are adjacent (a transposed operand, rs = 4: the weight gradients' gy^T), the
  // MR values of a panel column are one v128 load; otherwise they are gathered one by one.
  const pa = m.func('packA', { src: 'i32', rs: 'i32', cs: 'i32', kc: 'i32', mc: 'i32', dst: 'i32' }, undefined, false);
  {
    const { src, rs, cs, kc, mc, dst } = pa.p;
    const ip = pa.local('i32'), i = pa.local('i32'), p = pa.local('i32'), s = pa.local('i32'), d = pa.local('i32');
    pa.body = forRange(ip, i32.const(0), get(mc), MR,
      ifThen(i32.and(i32.eq(get(rs), i32.const(4)), i32.ge_s(i32.sub(get(mc), get(ip)), i32.const(MR))), [
        set(s, i32.add(get(src), i32.shl(get(ip), i32.const(2)))),
        forRange(p, i32.const(0), get(kc), 1,
          v128.store(get(dst), v128.load(get(s))),
          set(s, i32.add(get(s), get(cs))),
          set(dst, i32.add(get(dst), i32.const(MR * 4)))),
      ], [
        ifThen(i32.lt_s(i32.sub(get(mc), get(ip)), i32.const(MR)), [memory.fill(get(dst), i32.const(0), i32.mul(get(kc), i32.const(MR * 4)))]),
        forRange(i, i32.const(0), imin(i32.const(MR), i32.sub(get(mc), get(ip))), 1,
          set(s, i32.add(get(src), i32.mul(i32.add(get(ip), get(i)), get(rs)))),
          set(d, i32.add(get(dst), i32.shl(get(i), i32.const(2)))),
          forRange(p, i32.const(0), get(kc), 1,
            f32.store(get(d), f32.load(get(s))),
            set(s, i32.add(get(s), get(cs))),
            set(d, i32.add(get(d), i32.const(MR * 4))))),
        set(dst, i32.add(get(dst), i32.mul(get(kc), i32.const(MR * 4)))),
      ]));
  }

  // The MRxNR micro-kernel.
  const mk = m.func('micro', {
    pa: 'i32', pb: 'i32', kc: 'i32', c: 'i32', ldc: 'i32', mr: 'i32', nr: 'i32', first: 'i32', biasMode: 'i32', bias: 'i32', tile: 'i32',
  }, undefined, false);
  {
    const P = mk.p;
    const acc = mk.locals('v128', MR * 2), b0 = mk.local('v128'), b1 = mk.local('v128'), a = mk.local('v128');
    const k = mk.local('i32'), row = mk.local('i32'), i = mk.local('i32'), j = mk.local('i32'), add = mk.local('f32');
    const c = (r: number, h: number) => acc[r * 2 + h]!;
    const kloop: Code[] = [set(b0, v128.load(get(P.pb))), set(b1, v128.load(get(P.pb), 16))];
    for (let r = 0; r < MR; r++) {
      kloop.push(set(a, v128.load32_splat(get(P.pa), r * 4)));
      kloop.push(set(c(r, 0), madd(relaxed, get(a), get(b0), get(c(r, 0)))));
      kloop.push(set(c(r, 1), madd(relaxed, get(a), get(b1), get(c(r, 1)))));
    }
    const addAll = (f: (r: number, h: number) => Code): Code[] => {
      const out: Code[] = [];
      for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) out.push(set(c(r, h), f32x4.add(get(c(r, h)), f(r, h))));
      return out;
    };
    const rowAddr = (r: number): Code => i32.add(get(P.c), i32.mul(get(P.ldc), i32.const(r)));
    const storeRows: Code[] = [];
    for (let r = 0; r < MR; r++) {
      storeRows.push(set(row, rowAddr(r)), v128.store(get(row), get(c(r, 0))), v128.store(get(row), get(c(r, 1)), 16));
    }
    const full = [
      ifThen(get(P.first), [
        ifThen(i32.eq(get(P.biasMode), i32.const(BIAS_PER_COLUMN)), [
          set(b0, v128.load(get(P.bias))), set(b1, v128.load(get(P.bias), 16)),
          ...addAll((_r, h) => get(h === 0 ? b0 : b1)),
        ]),
        ifThen(i32.eq(get(P.biasMode), i32.const(BIAS_PER_ROW)), addAll((r) => v128.load32_splat(get(P.bias), r * 4))),
      ], addAll((r, h) => v128.load(rowAddr(r), h * 16))),
      ...storeRows,
    ];
    const tileStores: Code[] = [];
    for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) tileStores.push(v128.store(get(P.tile), get(c(r, h)), (r * NR + h * 4) * 4));
    const cAddr = i32.add(i32.add(get(P.c), i32.mul(get(i), get(P.ldc))), i32.shl(get(j), i32.const(2)));
    const partial = [
      ...tileStores,
      forRange(i, i32.const(0), get(P.mr), 1,
        forRange(j, i32.const(0), get(P.nr), 1,
          ifThen(get(P.first), [
            set(add, f32.const(0)),
            ifThen(i32.eq(get(P.biasMode), i32.const(BIAS_PER_COLUMN)), [set(add, f32.load(i32.add(get(P.bias), i32.shl(get(j), i32.const(2)))))]),
            ifThen(i32.eq(get(P.biasMode), i32.const(BIAS_PER_ROW)), [set(add, f32.load(i32.add(get(P.bias), i32.shl(get(i), i32.const(2)))))]),
          ], [set(add, f32.load(cAddr))]),
          f32.store(cAddr, f32.add(f32.load(i32.add(get(P.tile), i32.shl(i32.add(i32.mul(get(i), i32.const(NR)), get(j)), i32.const(2)))), get(add))))),
    ];
    mk.body = cat(
      ...acc.map((l) => set(l, v128.zero())),
      set(k, get(P.kc)),
      loop(...kloop,
        set(P.pa, i32.add(get(P.pa), i32.const(MR * 4))),
        set(P.pb, i32.add(get(P.pb), i32.const(NR * 4))),
        brIf(0, tee(k, i32.sub(get(k), i32.const(1))))),
      ifThen(i32.and(i32.eq(get(P.mr), i32.const(MR)), i32.eq(get(P.nr), i32.const(NR))), full, partial),
    );
  }

  // act_block: C[rows, cols] (row stride ldc bytes) = act(C), one loop per activation.
  const ab = m.func('act_block', { c: 'i32', ldc: 'i32', rows: 'i32', cols: 'i32', act: 'i32' }, undefined, false);
  {
    const P = ab.p;
    const r = ab.local('i32'), j = ab.local('i32'), row = ab.local('i32'), v = ab.local('v128');
    const T = mathTemps(ab);
    ab.body = cat(...GEMM_ACTIVATIONS.map((op, i) => ifThen(i32.eq(get(P.act), i32.const(i + 1)), [
      forRange(r, i32.const(0), get(P.rows), 1,
        set(row, i32.add(get(P.c), i32.mul(get(r), get(P.ldc)))),
        vecLoop(j, get(P.cols),
          [set(v, v128.load(at(row, get(j)))), v128.store(at(row, get(j)), unaryOp(op, v, T))],
          [set(v, f32x4.splat(f32.load(at(row, get(j))))), f32.store(at(row, get(j)), f32x4.extract_lane(unaryOp(op, v, T), 0))])),
    ])));
  }

  // gemv: one row of A times a transposed B (x W^T, the decoding step's linear layers):
  // c[j] = dot(a, b_j) (+ bias[j]) over contiguous rows b_j = B[j, :] of length k, so nothing is
  // packed; four lanes of partial sums (a different summation order than the micro-kernel's,
  // within float rounding). Rows j0..j1; the activation over them afterwards.
  const gv = m.func('gemv', { a: 'i32', b: 'i32', c: 'i32', bias: 'i32', biasMode: 'i32', k: 'i32', j0: 'i32', j1: 'i32', act: 'i32' });
  {
    const P = gv.p;
    const j = gv.local('i32'), p = gv.local('i32'), row = gv.local('i32'), k4 = gv.local('i32'), acc = gv.local('v128'), sum = gv.local('f32');
    gv.body = cat(
      set(k4, i32.and(get(P.k), i32.const(-4))),
      forRange(j, get(P.j0), get(P.j1), 1,
        set(row, i32.add(get(P.b), i32.shl(i32.mul(get(j), get(P.k)), i32.const(2)))),
        set(acc, v128.zero()),
        forRange(p, i32.const(0), get(k4), 4,
          set(acc, madd(relaxed, v128.load(at(P.a, get(p))), v128.load(at(row, get(p))), get(acc)))),
        set(sum, f32.add(f32.add(f32x4.extract_lane(get(acc), 0), f32x4.extract_lane(get(acc), 1)),
          f32.add(f32x4.extract_lane(get(acc), 2), f32x4.extract_lane(get(acc), 3)))),
        forRange(p, get(k4), get(P.k), 1,
          set(sum, f32.add(get(sum), f32.mul(f32.load(at(P.a, get(p))), f32.load(at(row, get(p))))))),
        ifThen(i32.eq(get(P.biasMode), i32.const(BIAS_PER_COLUMN)), [set(sum, f32.add(get(sum), f32.load(at(P.bias, get(j)))))]),
        f32.store(at(P.c, get(j)), get(sum))),
      ifThen(i32.ne(get(P.act), i32.const(0)), [
        call(ab, at(P.c, get(P.j0)), i32.const(0), i32.const(1), i32.sub(get(P.j1), get(P.j0)), get(P.act)),
      ]),
    );
  }

  // The blocked driver for rows m0..m1, columns n0..n1 of one matrix (C's row stride is n).
  const g = m.func('gemm', {
    a: 'i32', b: 'i32', c: 'i32', bias: 'i32', biasMode: 'i32', n: 'i32', k: 'i32',
    rsA: 'i32', csA: 'i32', rsB: 'i32', csB: 'i32', m0: 'i32', m1: 'i32', n0: 'i32', n1: 'i32', packA: 'i32', packB: 'i32', tile: 'i32', accumulate: 'i32', act: 'i32',
  });
  {
    const P = g.p;
    const jc = g.local('i32'), pc = g.local('i32'), ic = g.local('i32'), jr = g.local('i32'), ir = g.local('i32');
    const nc = g.local('i32'), kc = g.local('i32'), mc = g.local('i32');
    g.body = forRange(jc, get(P.n0), get(P.n1), NC,
      set(nc, imin(i32.const(NC), i32.sub(get(P.n1), get(jc)))),
      forRange(pc, i32.const(0), get(P.k), KC,
        set(kc, imin(i32.const(KC), i32.sub(get(P.k), get(pc)))),
        call(pb, i32.add(i32.add(get(P.b), i32.mul(get(pc), get(P.rsB))), i32.mul(get(jc), get(P.csB))),
          get(P.rsB), get(P.csB), get(kc), get(nc), get(P.packB)),
        forRange(ic, get(P.m0), get(P.m1), MC,
          set(mc, imin(i32.const(MC), i32.sub(get(P.m1), get(ic)))),
          call(pa, i32.add(i32.add(get(P.a), i32.mul(get(ic), get(P.rsA))), i32.mul(get(pc), get(P.csA))),
            get(P.rsA), get(P.csA), get(kc), get(mc), get(P.packA)),
          forRange(jr, i32.const(0), get(nc), NR,
            forRange(ir, i32.const(0), get(mc), MR,
              call(mk,
                i32.add(get(P.packA), i32.shl(i32.mul(get(ir), get(kc)), i32.const(2))),
                i32.add(get(P.packB), i32.shl(i32.mul(get(jr), get(kc)), i32.const(2))),
                get(kc),
                i32.add(get(P.c), i32.shl(i32.add(i32.mul(i32.add(get(ic), get(ir)), get(P.n)), i32.add(get(jc), get(jr))), i32.const(2))),
                i32.shl(get(P.n), i32.const(2)),
                imin(i32.const(MR), i32.sub(get(mc), get(ir))),
                imin(i32.const(NR), i32.sub(get(nc), get(jr))),
                i32.and(i32.eqz(get(pc)), i32.eqz(get(P.accumulate))),
                get(P.biasMode),
                i32.add(get(P.bias), i32.shl(
                  select(i32.add(get(ic), get(ir)), i32.add(get(jc), get(jr)), i32.eq(get(P.biasMode), i32.const(BIAS_PER_ROW))), i32.const(2))),
                get(P.tile)))),
          // This block of C holds its full sum after the last K block: apply the activation.
          ifThen(i32.and(i32.ne(get(P.act), i32.const(0)), i32.ge_s(i32.add(get(pc), get(kc)), get(P.k))), [
            call(ab, i32.add(get(P.c), i32.shl(i32.add(i32.mul(get(ic), get(P.n)), get(jc)), i32.const(2))),
              i32.shl(get(P.n), i32.const(2)), get(mc), get(nc), get(P.act)),
          ]))));
  }
  return { gemm: g, gemv: gv };
}
