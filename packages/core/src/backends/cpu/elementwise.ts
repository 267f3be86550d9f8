// Elementwise kernels of the CPU reference backend: unary ops, their derivatives, and
// broadcasting binary/ternary ops. One tight loop per op (the switch is outside the loop).
import type { BinaryOp, DifferentiableUnaryOp, UnaryOp } from '../../backend.ts';

type Arr = Float32Array | Int32Array;

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT2 = Math.SQRT1_2;

/** erf to ~1e-15 relative, so gelu_erf matches PyTorch in float32 (Abramowitz-Stegun is too coarse). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series; converges fast for |x| < 2.5.
    let term = x, sum = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc on the tail.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return x > 0 ? 1 - erfc : erfc - 1;
}

export function unary(op: UnaryOp, x: Arr, out: Arr): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); break;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!); break;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!); break;
    case 'rsqrt': for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]!); break;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!); break;
    case 'tanh': for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!); break;
    case 'sigmoid': for (let i = 0; i < n; i++) out[i] = 1 / (1 + Math.exp(-x[i]!)); break;
    case 'silu': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v / (1 + Math.exp(-v)); } break;
    case 'gelu_erf': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + erf(v * INV_SQRT2)); } break;
    case 'gelu_tanh': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))); } break;
    case 'relu': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 0 ? v : 0; } break;
    case 'sin': for (let i = 0; i < n; i++) out[i] = Math.sin(x[i]!); break;
    case 'cos': for (let i = 0; i < n; i++) out[i] = Math.cos(x[i]!); break;
    case 'square': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v * v; } break;
    case 'reciprocal': for (let i = 0; i < n; i++) out[i] = 1 / x[i]!; break;
    case 'sign': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 0 ? 1 : v < 0 ? -1 : 0; } break;
  }
}

/** out = gy * f'(x). */
export function unaryGrad(op: DifferentiableUnaryOp, x: Float32Array, gy: Float32Array, out: Float32Array): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -gy[i]!; break;
    case 'exp': for (let i = 0; i < n; i++) out[i] = gy[i]! * Math.exp(x[i]!); break;
    case 'log': for (let i = 0; i < n; i++) out[i] = gy[i]! / x[i]!; break;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = gy[i]! * 0.5 / Math.sqrt(x[i]!); break;
    case 'rsqrt': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = gy[i]! * -0.5 / (v * Math.sqrt(v)); } break;
    case 'abs': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v > 0 ? gy[i]! : v < 0 ? -gy[i]! : 0; } break;
    case 'tanh': for (let i = 0; i < n; i++) { const t = Math.tanh(x[i]!); out[i] = gy[i]! * (1 - t * t); } break;
    case 'sigmoid': for (let i = 0; i < n; i++) { const s = 1 / (1 + Math.exp(-x[i]!)); out[i] = gy[i]! * s * (1 - s); } break;
    case 'silu': for (let i = 0; i < n; i++) { const v = x[i]!; const s = 1 / (1 + Math.exp(-v)); out[i] = gy[i]! * s * (1 + v * (1 - s)); } break;
    case 'gelu_erf':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const cdf = 0.5 * (1 + erf(v * INV_SQRT2));
        const pdf = Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
        out[i] = gy[i]! * (cdf + v * pdf);
      }
      break;
    case 'gelu_tanh':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const inner = SQRT_2_OVER_PI * (v + 0.044715 * v * v * v);
        const t = Math.tanh(inner);
        const dInner = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
        out[i] = gy[i]! * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * dInner);
      }
      break;
    case 'relu': for (let i = 0; i < n; i++) out[i] = x[i]! > 0 ? gy[i]! : 0; break;
    case 'sin': for (let i = 0; i < n; i++) out[i] = gy[i]! * Math.cos(x[i]!); break;
    case 'cos': for (let i = 0; i < n; i++) out[i] = -gy[i]! * Math.sin(x[i]!); break;
    case 'square': for (let i = 0; i < n; i++) out[i] = 2 * gy[i]! * x[i]!; break;
    case 'reciprocal': for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = -gy[i]! / (v * v); } break;
  }
}

/** Strides of a contiguous shape, with 0 where the dimension is broadcast (size 1 in a larger output). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let s = 1;
  for (let d = outShape.length - 1; d >= 0; d--) {
    const dim = shape[d]!;
    strides[d] = dim === 1 && outShape[d] !== 1 ? 0 : s;
    s *= dim;
  }
  return strides;
}

function binaryLoop(op: BinaryOp, a: Arr, ai: number, b: Arr, bi: number, out: Arr, oi: number, n: number, as: number, bs: number): void {
  // Inner loop over the last axis with constant strides (0 or 1).
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! + b[bi + i * bs]!; break;
    case 'sub': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! - b[bi + i * bs]!; break;
    case 'mul': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! * b[bi + i * bs]!; break;
    case 'div': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! / b[bi + i * bs]!; break;
    case 'pow': for (let i = 0; i < n; i++) out[oi + i] = Math.pow(a[ai + i * as]!, b[bi + i * bs]!); break;
    case 'max': for (let i = 0; i < n; i++) { const x = a[ai + i * as]!, y = b[bi + i * bs]!; out[oi + i] = x !== x || x > y ? x : y; } break;
    case 'min': for (let i = 0; i < n; i++) { const x = a[ai + i * as]!, y = b[bi + i * bs]!; out[oi + i] = x !== x || x < y ? x : y; } break;
    case 'eq': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! === b[bi + i * bs]! ? 1 : 0; break;
    case 'ne': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! !== b[bi + i * bs]! ? 1 : 0; break;
    case 'lt': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! < b[bi + i * bs]! ? 1 : 0; break;
    case 'le': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! <= b[bi + i * bs]! ? 1 : 0; break;
    case 'gt': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! > b[bi + i * bs]! ? 1 : 0; break;
    case 'ge': for (let i = 0; i < n; i++) out[oi + i] = a[ai + i * as]! >= b[bi + i * bs]! ? 1 : 0; break;
  }
}

/** Visits every row (all axes but the last) of outShape, giving each operand's start offset. */
function forEachRow(outShape: readonly number[], strideSets: number[][], fn: (offsets: number[], outOffset: number) => void): void {
  const rank = outShape.length;
  const rowLen = rank === 0 ? 1 : outShape[rank - 1]!;
  const total = outShape.reduce((p, d) => p * d, 1);
  if (total === 0) return;
  const rows = total / rowLen;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  const offs = strideSets.map(() => 0);
  for (let r = 0; r < rows; r++) {
    fn(offs, r * rowLen);
    // Increment the multi-index over the leading axes, updating offsets incrementally.
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < strideSets.length; k++) offs[k]! += strideSets[k]![d]!;
      if (idx[d]! < outShape[d]!) break;
      for (let k = 0; k < strideSets.length; k++) offs[k]! -= strideSets[k]![d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

export function binary(op: BinaryOp, a: Arr, aShape: readonly number[], b: Arr, bShape: readonly number[], outShape: readonly number[], out: Arr): void {
  const rank = outShape.length;
  const as = broadcastStrides(aShape, outShape), bs = broadcastStrides(bShape, outShape);
  const n = rank === 0 ? 1 : outShape[rank - 1]!;
  const aLast = rank === 0 ? 1 : as[rank - 1]!, bLast = rank === 0 ? 1 : bs[rank - 1]!;
  forEachRow(outShape, [as, bs], (o, oo) => binaryLoop(op, a, o[0]!, b, o[1]!, out, oo, n, aLast, bLast));
}

export function where(cond: Arr, cShape: readonly number[], a: Arr, aShape: readonly number[], b: Arr, bShape: readonly number[], outShape: readonly number[], out: Arr): void {
  const rank = outShape.length;
  const cs = broadcastStrides(cShape, outShape), as = broadcastStrides(aShape, outShape), bs = broadcastStrides(bShape, outShape);
  const n = rank === 0 ? 1 : outShape[rank - 1]!;
  const cl = rank === 0 ? 1 : cs[rank - 1]!, al = rank === 0 ? 1 : as[rank - 1]!, bl = rank === 0 ? 1 : bs[rank - 1]!;
  forEachRow(outShape, [cs, as, bs], (o, oo) => {
    const c0 = o[0]!, a0 = o[1]!, b0 = o[2]!;
    for (let i = 0; i < n; i++) out[oo + i] = cond[c0 + i * cl]! !== 0 ? a[a0 + i * al]! : b[b0 + i * bl]!;
  });
}
