// Helpers every op uses: wrap a fresh storage as a tensor, attach the backward node when
// gradients are being recorded, and check that operands live on one backend.
import type { Backend, DType, Storage } from '../backend.ts';
import { engine } from '../engine.ts';
import type { Shape } from '../shape.ts';
import { shapeStr } from '../shape.ts';
import { Tensor, type GradNode } from '../tensor.ts';

export function wrap(backend: Backend, storage: Storage, shape: Shape): Tensor {
  return Tensor.fromStorage(backend, storage, shape);
}

/** Marks out as produced by op from inputs, if any input needs a gradient. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradNode['backward']): Tensor {
  if (engine.gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

export function sameBackend(op: string, ...ts: Tensor[]): Backend {
  const b = ts[0]!.backend;
  for (const t of ts) {
    if (t.backend !== b) throw new Error(`${op}: operands are on different backends (${b.name} and ${t.backend.name}); move one with .to()`);
  }
  return b;
}

/** Operands of ops that read float16 natively (matmul, attention): float32 or float16. */
export function requireFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype === 'int32') throw new TypeError(`${op}: expected a float32 or float16 tensor, got int32 ${shapeStr(t.shape)}${t.name ? ` ("${t.name}")` : ''}`);
  }
}

/** float16 is a storage dtype: every kernel but matmul, attention and indexSelect computes on
 * float32, so their ops cast a float16 operand here (one cast per use; nothing is cached, so
 * a half weight stays half in memory). Other dtypes pass through unchanged. */
export function f32(t: Tensor): Tensor {
  return t.dtype === 'float16' ? wrap(t.backend, t.backend.cast(t.storage, 'float32'), t.shape) : t;
}

export function requireInt(op: string, t: Tensor, what: string): void {
  if (t.dtype !== 'int32') throw new TypeError(`${op}: ${what} must be int32, got ${t.dtype} ${shapeStr(t.shape)}`);
}

/** A number becomes a 0-dim tensor of the given dtype on the backend. */
export function scalarLike(x: Tensor | number, backend: Backend, dtype: DType): Tensor {
  if (typeof x !== 'number') return x;
  return wrap(backend, backend.fill(1, dtype, x), []);
}
