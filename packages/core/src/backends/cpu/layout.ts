// Strided copies: the only layout kernels. permute, slice (with steps), expand and concat are
// all a gather from, or a scatter into, a strided view.
import type { StridedView } from '../../backend.ts';

type Arr = Float32Array | Int32Array;

function walk(view: StridedView, fn: (src: number, dst: number, n: number, step: number) => void): void {
  const { shape, strides, offset } = view;
  const rank = shape.length;
  const total = shape.reduce((p, d) => p * d, 1);
  if (total === 0) return;
  if (rank === 0) { fn(offset, 0, 1, 0); return; }
  const n = shape[rank - 1]!, step = strides[rank - 1]!;
  const rows = total / n;
  const idx = new Array<number>(rank - 1).fill(0);
  let off = offset;
  for (let r = 0; r < rows; r++) {
    fn(off, r * n, n, step);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      off += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

export function gatherStrided(x: Arr, view: StridedView, out: Arr): void {
  walk(view, (src, dst, n, step) => {
    for (let i = 0; i < n; i++) out[dst + i] = x[src + i * step]!;
  });
}

export function scatterStrided(dst: Arr, view: StridedView, src: Arr): void {
  walk(view, (d, s, n, step) => {
    for (let i = 0; i < n; i++) dst[d + i * step] = src[s + i]!;
  });
}
