// Elementwise ops: unary math, broadcasting binary arithmetic and comparisons, where/maskedFill.
import type { BinaryOp, DifferentiableUnaryOp, DType, UnaryOp } from '../backend.ts';
import { broadcastShapes, padShape, sameShape, shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { f32, record, sameBackend, scalarLike, wrap } from './record.ts';
import { sumTo } from './reduce.ts';

// --- unary -----------------------------------------------------------------------------------

function unaryOp(op: UnaryOp, x0: Tensor): Tensor {
  const x = f32(x0);
  const out = wrap(x.backend, x.backend.unary(op, x.storage), x.shape);
  if (op === 'sign') return out;
  return record(out, op, [x], (gy) => [wrap(x.backend, x.backend.unaryGrad(op as DifferentiableUnaryOp, x.storage, gy.storage), x.shape)]);
}

export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const rsqrt = (x: Tensor): Tensor => unaryOp('rsqrt', x);
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const silu = (x: Tensor): Tensor => unaryOp('silu', x);
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const square = (x: Tensor): Tensor => unaryOp('square', x);
export const sin = (x: Tensor): Tensor => unaryOp('sin', x);
export const cos = (x: Tensor): Tensor => unaryOp('cos', x);
export const reciprocal = (x: Tensor): Tensor => unaryOp('reciprocal', x);
export const sign = (x: Tensor): Tensor => unaryOp('sign', x);
/** GELU: exact erf form (PyTorch's default) or the tanh approximation (HF gelu_pytorch_tanh). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return unaryOp(approximate === 'tanh' ? 'gelu_tanh' : 'gelu_erf', x);
}

/** A copy in another dtype. float32 -> float16 rounds to nearest even and, like torch's .half(),
 * turns values beyond float16's range (|x| >= 65520) into inf; int32 <-> float16 goes through
 * float32. No gradient flows through a cast. */
export function astype(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  if ((x.dtype === 'int32' && dtype === 'float16') || (x.dtype === 'float16' && dtype === 'int32')) return astype(astype(x, 'float32'), dtype);
  return wrap(x.backend, x.backend.cast(x.storage, dtype), x.shape);
}

// --- binary ----------------------------------------------------------------------------------

function operands(op: string, a: Tensor | number, b: Tensor | number): [Tensor, Tensor] {
  const t = typeof a === 'number' ? (b as Tensor) : a;
  const backend = t.backend;
  const isFrac = (v: Tensor | number): boolean => typeof v === 'number' && !Number.isInteger(v);
  const dtype: DType = t.dtype !== 'int32' || isFrac(a) || isFrac(b) ? 'float32' : 'int32';
  let A = f32(scalarLike(a, backend, dtype)), B = f32(scalarLike(b, backend, dtype));
  sameBackend(op, A, B);
  if (A.dtype !== B.dtype) { A = astype(A, 'float32'); B = astype(B, 'float32'); }
  return [A, B];
}

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor, outDtype: DType): Tensor {
  const outShape = broadcastShapes(a.shape, b.shape, op);
  const r = outShape.length;
  return wrap(a.backend, a.backend.binary(op, a.storage, padShape(a.shape, r), b.storage, padShape(b.shape, r), outShape, outDtype), outShape);
}

function arith(op: 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'max' | 'min', x: Tensor | number, y: Tensor | number): Tensor {
  const [a, b] = operands(op, x, y);
  const out = binaryRaw(op, a, b, a.dtype);
  return record(out, op, [a, b], (gy) => {
    const ga = (): Tensor => {
      switch (op) {
        case 'add': case 'sub': return gy;
        case 'mul': return mul(gy, b);
        case 'div': return div(gy, b);
        case 'pow': return mul(gy, mul(b, pow(a, sub(b, 1))));
        case 'max': return mul(gy, astype(binaryRaw('ge', a, b, 'int32'), 'float32'));
        case 'min': return mul(gy, astype(binaryRaw('le', a, b, 'int32'), 'float32'));
      }
    };
    const gb = (): Tensor => {
      switch (op) {
        case 'add': return gy;
        case 'sub': return neg(gy);
        case 'mul': return mul(gy, a);
        case 'div': return neg(div(mul(gy, a), mul(b, b)));
        // d/db a^b = a^b ln a; defined as 0 where a == 0 (as PyTorch does for b > 0).
        case 'pow': return mul(gy, where(eq(a, 0), 0, mul(out, log(a))));
        case 'max': return mul(gy, astype(binaryRaw('lt', a, b, 'int32'), 'float32'));
        case 'min': return mul(gy, astype(binaryRaw('gt', a, b, 'int32'), 'float32'));
      }
    };
    return [a.requiresGrad ? sumTo(ga(), a.shape) : null, b.requiresGrad ? sumTo(gb(), b.shape) : null];
  });
}

export const add = (a: Tensor | number, b: Tensor | number): Tensor => arith('add', a, b);
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => arith('sub', a, b);
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => arith('mul', a, b);
export const div = (a: Tensor | number, b: Tensor | number): Tensor => arith('div', a, b);
export const pow = (a: Tensor | number, b: Tensor | number): Tensor => arith('pow', a, b);
/** Elementwise maximum; where a == b the gradient goes to a. */
export const maximum = (a: Tensor | number, b: Tensor | number): Tensor => arith('max', a, b);
export const minimum = (a: Tensor | number, b: Tensor | number): Tensor => arith('min', a, b);

function compare(op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge', x: Tensor | number, y: Tensor | number): Tensor {
  const [a, b] = operands(op, x, y);
  return binaryRaw(op, a, b, 'int32');
}
/** Comparisons give int32 tensors of 1 and 0 (no gradient). */
export const eq = (a: Tensor | number, b: Tensor | number): Tensor => compare('eq', a, b);
export const ne = (a: Tensor | number, b: Tensor | number): Tensor => compare('ne', a, b);
export const lt = (a: Tensor | number, b: Tensor | number): Tensor => compare('lt', a, b);
export const le = (a: Tensor | number, b: Tensor | number): Tensor => compare('le', a, b);
export const gt = (a: Tensor | number, b: Tensor | number): Tensor => compare('gt', a, b);
export const ge = (a: Tensor | number, b: Tensor | number): Tensor => compare('ge', a, b);

/** cond != 0 ? a : b, broadcasting all three. */
export function where(cond0: Tensor, x: Tensor | number, y: Tensor | number): Tensor {
  const cond = f32(cond0);
  // Two scalars take their backend from cond (operands() needs one tensor to find it).
  const [a, b] = operands('where', typeof x === 'number' && typeof y === 'number' ? scalarLike(x, cond.backend, 'float32') : x, y);
  sameBackend('where', cond, a, b);
  const outShape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'where'), b.shape, 'where');
  const r = outShape.length;
  const out = wrap(a.backend, a.backend.where(cond.storage, padShape(cond.shape, r), a.storage, padShape(a.shape, r),
    b.storage, padShape(b.shape, r), outShape), outShape);
  return record(out, 'where', [a, b], (gy) => {
    const zero = scalarLike(0, gy.backend, 'float32');
    return [
      a.requiresGrad ? sumTo(where(cond, gy, zero), a.shape) : null,
      b.requiresGrad ? sumTo(where(cond, zero, gy), b.shape) : null,
    ];
  });
}

/** x with value wherever mask != 0 (mask broadcasts to x). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const out = where(mask, value, x);
  if (!sameShape(out.shape, x.shape)) {
    throw new Error(`maskedFill: mask ${shapeStr(mask.shape)} does not broadcast to the input's shape ${shapeStr(x.shape)}`);
  }
  return out;
}
