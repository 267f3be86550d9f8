// Reductions over the middle axis of an [outer, len, inner] view. Sums accumulate in float64.
import type { ReduceOp, ReduceShape } from '../../backend.ts';

type Arr = Float32Array | Int32Array;

export function reduce(op: ReduceOp, x: Arr, { outer, len, inner }: ReduceShape, out: Arr): void {
  for (let o = 0; o < outer; o++) {
    const base = o * len * inner;
    for (let i = 0; i < inner; i++) {
      const start = base + i;
      let acc: number;
      switch (op) {
        case 'sum': {
          acc = 0;
          for (let j = 0; j < len; j++) acc += x[start + j * inner]!;
          break;
        }
        case 'max': case 'min': {
          const isMax = op === 'max';
          acc = len > 0 ? x[start]! : isMax ? -Infinity : Infinity;
          for (let j = 1; j < len; j++) {
            const v = x[start + j * inner]!;
            if (v !== v) { acc = v; break; } // NaN propagates, as in PyTorch
            if (isMax ? v > acc : v < acc) acc = v;
          }
          break;
        }
        case 'argmax': case 'argmin': {
          const isMax = op === 'argmax';
          let best = x[start]!, bi = 0;
          for (let j = 1; j < len; j++) {
            const v = x[start + j * inner]!;
            if (best !== best) break;
            if (v !== v || (isMax ? v > best : v < best)) { best = v; bi = j; }
          }
          acc = bi;
          break;
        }
      }
      out[o * inner + i] = acc;
    }
  }
}
