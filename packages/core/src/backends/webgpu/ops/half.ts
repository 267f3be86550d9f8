// float16 operands of matmul and attention. With `shader-f16` the kernels bind float16 storages
// as array<f16> (the element-type aliases below pick that variant); without it, each float16
// operand is widened into a temporary float32 copy for the call and freed right after it
// (command order makes reuse of that buffer by later kernels safe). Memory at rest stays half.
import { cast } from './elementwise.ts';
import type { WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';

/** The WGSL element type a kernel binds s as. */
export function elemType(s: GPUStorage): 'f16' | 'f32' {
  return s.dtype === 'float16' ? 'f16' : 'f32';
}

/** Runs fn on operands a kernel can bind: as they are with shader-f16, else float16 ones widened. */
export function withReadableHalves<T>(rt: WebGPURuntime, operands: readonly GPUStorage[], fn: (ops: GPUStorage[]) => T): T {
  if (rt.hasF16 || operands.every((s) => s.dtype !== 'float16')) return fn([...operands]);
  const temps: GPUStorage[] = [];
  const ops = operands.map((s) => {
    if (s.dtype !== 'float16') return s;
    const t = cast(rt, s, 'float32');
    temps.push(t);
    return t;
  });
  try { return fn(ops); } finally { for (const t of temps) rt.free(t); }
}
