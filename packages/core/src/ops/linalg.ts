// Matrix products. Transposed operands and batch broadcasting are passed to the backend as
// flags and strides, so neither the forward nor the backward pass copies a transpose.
import type { MatmulActivation, MatmulArgs } from '../backend.ts';
import { engine } from '../engine.ts';
import { broadcastShapes, shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { gelu, relu, silu } from './elementwise.ts';
import { expand, reshape, squeeze, unsqueeze } from './layout.ts';
import { f32, record, requireFloat, sameBackend, wrap } from './record.ts';
import { sum } from './reduce.ts';

interface RawMatmul {
  batch: number; m: number; k: number; n: number; transA?: boolean; transB?: boolean; aBatchStride?: number; bBatchStride?: number;
  bias?: Tensor; activation?: MatmulActivation;
}

/** Each epilogue activation as its own recorded op (the unfused path, which keeps z for the gradient). */
const ACTIVATION_OPS: Readonly<Record<MatmulActivation, (z: Tensor) => Tensor>> = {
  gelu_erf: (z) => gelu(z), gelu_tanh: (z) => gelu(z, 'tanh'), silu, relu,
};

/** [batch, m, n] = op(a) @ op(b) without recording a graph. */
function mm(a: Tensor, b: Tensor, r: RawMatmul): Tensor {
  const args: MatmulArgs = {
    batch: r.batch, m: r.m, k: r.k, n: r.n, transA: r.transA ?? false, transB: r.transB ?? false,
    aBatchStride: r.aBatchStride ?? r.m * r.k, bBatchStride: r.bBatchStride ?? r.k * r.n,
    ...(r.bias ? { bias: f32(r.bias).storage } : {}), // operands may be float16, the bias is float32
    ...(r.activation ? { activation: r.activation } : {}),
  };
  return wrap(a.backend, a.backend.matmul(a.storage, b.storage, args), [r.batch, r.m, r.n]);
}

/** torch.matmul semantics: 1-D operands, batched and broadcast batch dims. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('matmul', a, b);
  sameBackend('matmul', a, b);
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: 0-dim operand (${shapeStr(a.shape)} @ ${shapeStr(b.shape)})`);
  if (a.rank === 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.rank === 1) return squeeze(matmul(a, unsqueeze(b, -1)), -1);
  const m = a.shape[a.rank - 2]!, k = a.shape[a.rank - 1]!, n = b.shape[b.rank - 1]!;
  if (b.shape[b.rank - 2] !== k) throw new Error(`matmul: inner dims differ: ${shapeStr(a.shape)} @ ${shapeStr(b.shape)}`);
  const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
  const batchShape = broadcastShapes(aBatch, bBatch, 'matmul');
  const batch = batchShape.reduce((p, d) => p * d, 1);
  const aOne = aBatch.every((d) => d === 1), bOne = bBatch.every((d) => d === 1);

  if (bOne && !aOne) {
    // Fold a's batch into m: one [batch*m, k] @ [k, n] product, as for a Linear layer.
    const a2 = reshape(a, [-1, k]);
    const b2 = reshape(b, [k, n]);
    const rows = a2.shape[0]!;
    const out = reshape(mm(a2, b2, { batch: 1, m: rows, k, n }), [...batchShape, m, n]);
    return record(out, 'matmul', [a, b], (gy) => {
      const g2 = reshape(gy, [rows, n]);
      return [
        a.requiresGrad ? reshape(mm(g2, b2, { batch: 1, m: rows, k: n, n: k, transB: true }), a.shape) : null,
        b.requiresGrad ? reshape(mm(a2, g2, { batch: 1, m: k, k: rows, n, transA: true }), b.shape) : null,
      ];
    });
  }
  // Batched: an operand whose batch dims are all 1 is shared with stride 0; the other is
  // expanded (a copy only when its batch dims are themselves broadcast).
  const A = aOne ? reshape(a, [m, k]) : expand(a, [...batchShape, m, k]);
  const B = bOne ? reshape(b, [k, n]) : expand(b, [...batchShape, k, n]);
  const aS = aOne ? 0 : m * k, bS = bOne ? 0 : k * n;
  const out = reshape(mm(A, B, { batch, m, k, n, aBatchStride: aS, bBatchStride: bS }), [...batchShape, m, n]);
  return record(out, 'matmul', [A, B], (gy) => {
    let gA: Tensor | null = null, gB: Tensor | null = null;
    if (A.requiresGrad) {
      const g = mm(gy, B, { batch, m, k: n, n: k, transB: true, aBatchStride: m * n, bBatchStride: bS });
      gA = aOne ? reshape(sum(g, 0), [m, k]) : reshape(g, A.shape);
    }
    if (B.requiresGrad) {
      const g = mm(A, gy, { batch, m: k, k: m, n, transA: true, aBatchStride: aS, bBatchStride: m * n });
      gB = bOne ? reshape(sum(g, 0), [k, n]) : reshape(g, B.shape);
    }
    return [gA, gB];
  });
}

export interface LinearActivation {
  /** act(x @ w^T + bias), fused into the product's epilogue when no gradient is recorded. */
  activation?: MatmulActivation;
}

/** y = x @ w^T + bias, w as [out, in] (PyTorch's Linear layout), bias fused into the product;
 * with `activation`, y = act(x @ w^T + bias).
 *
 * The activation's gradient needs the pre-activation z. When a gradient is recorded, z comes
 * from the bias epilogue and the activation runs as its own unary op that keeps z; a single
 * dispatch cannot give z back (gelu/silu/relu are not invertible), and writing both z and y
 * from one kernel moves the same bytes as the unary pass that reads z and writes y. When none
 * is recorded (noGrad, frozen weights and inputs), it is one fused dispatch. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null, opts: LinearActivation = {}): Tensor {
  requireFloat('linear', x, w);
  sameBackend('linear', x, w);
  const inF = w.shape[1]!, outF = w.shape[0]!;
  if (w.rank !== 2 || x.shape[x.rank - 1] !== inF) {
    throw new Error(`linear: input ${shapeStr(x.shape)} does not match weight ${shapeStr(w.shape)} (expected [..., ${inF}])`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outF)) throw new Error(`linear: bias ${shapeStr(bias.shape)} does not match weight ${shapeStr(w.shape)}`);
  const act = opts.activation;
  if (act !== undefined && !Object.hasOwn(ACTIVATION_OPS, act)) throw new Error(`linear: activation "${String(act)}" is not one of ${Object.keys(ACTIVATION_OPS).join(', ')}`);
  const inputs = bias ? [x, w, bias] : [x, w];
  const x2 = reshape(x, [-1, inF]);
  const rows = x2.shape[0]!;
  const outShape = [...x.shape.slice(0, -1), outF];
  const product = (activation?: MatmulActivation): Tensor =>
    reshape(mm(x2, w, { batch: 1, m: rows, k: inF, n: outF, transB: true, ...(bias ? { bias } : {}), ...(activation ? { activation } : {}) }), outShape);
  const recording = engine.gradEnabled && inputs.some((t) => t.requiresGrad);
  if (act && !recording) return product(act);
  const z = record(product(), 'linear', inputs, (gy) => {
    const g2 = reshape(gy, [rows, outF]);
    return [
      x.requiresGrad ? reshape(mm(g2, w, { batch: 1, m: rows, k: outF, n: inF }), x.shape) : null,
      w.requiresGrad ? reshape(mm(g2, x2, { batch: 1, m: outF, k: rows, n: inF, transA: true }), w.shape) : null,
      bias?.requiresGrad ? sum(g2, 0) : null,
    ];
  });
  return act ? ACTIVATION_OPS[act](z) : z;
}
