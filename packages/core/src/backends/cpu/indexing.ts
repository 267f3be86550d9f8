// Gathers by index and their transposes (scatter-adds), over [outer, len, inner] views.
import type { ReduceShape } from '../../backend.ts';

type Arr = Float32Array | Int32Array | Uint16Array; // Uint16Array: float16 bits (indexSelect of a half table)

function checkIndex(id: number, len: number, what: string): void {
  if (!(id >= 0 && id < len)) throw new RangeError(`${what}: index ${id} is out of range [0, ${len})`);
}

export function indexSelect(x: Arr, { outer, len, inner }: ReduceShape, ids: Int32Array, out: Arr): void {
  const k = ids.length;
  for (let j = 0; j < k; j++) checkIndex(ids[j]!, len, 'indexSelect');
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const src = (o * len + ids[j]!) * inner, dst = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = x[src + i]!;
    }
  }
}

export function indexAdd(g: Float32Array, { outer, len, inner }: ReduceShape, ids: Int32Array, out: Float32Array): void {
  const k = ids.length;
  for (let j = 0; j < k; j++) checkIndex(ids[j]!, len, 'indexAdd');
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      const dst = (o * len + ids[j]!) * inner, src = (o * k + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] += g[src + i]!;
    }
  }
}

export function takeAlongAxis(x: Arr, { outer, len, inner }: ReduceShape, idx: Int32Array, k: number, out: Arr): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < inner; i++) {
        const p = (o * k + j) * inner + i;
        const id = idx[p]!;
        checkIndex(id, len, 'gather');
        out[p] = x[(o * len + id) * inner + i]!;
      }
    }
  }
}

export function takeAlongAxisGrad(g: Float32Array, { outer, len, inner }: ReduceShape, idx: Int32Array, k: number, out: Float32Array): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < inner; i++) {
        const p = (o * k + j) * inner + i;
        const id = idx[p]!;
        checkIndex(id, len, 'gather');
        out[(o * len + id) * inner + i] += g[p]!;
      }
    }
  }
}
