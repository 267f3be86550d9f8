// Batched matmul for the CPU reference: operands are first packed row-major (so transposed
// operands cost one copy), then an i-k-j loop over k-blocks accumulates each output row in
// float64. Correct first, reasonably quick second; the Wasm backend is the fast CPU path.
// The activation epilogue runs the unary op's own loop in place over the finished product.
import type { MatmulArgs } from '../../backend.ts';
import { unary } from './elementwise.ts';

const KB = 128; // k-block: keeps a panel of B hot in cache while a row of A streams over it

function packRowMajor(src: Float32Array, off: number, rows: number, cols: number, trans: boolean, dst: Float32Array): Float32Array {
  // Returns [rows, cols] row-major; src holds it as [rows, cols] or, when trans, as [cols, rows].
  if (!trans) return src.subarray(off, off + rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[r * cols + c] = src[off + c * rows + r]!;
  return dst;
}

/** C = A @ B^T with B stored [n, k]: rows of both operands are contiguous, so each output is a
 * dot product and B (often a large weight, e.g. a tied LM head) is never repacked. */
function matmulTransB(a: Float32Array, b: Float32Array, bias: Float32Array | undefined, args: MatmulArgs, out: Float32Array): void {
  const { batch, m, k, n, aBatchStride, bBatchStride } = args;
  for (let bi = 0; bi < batch; bi++) {
    const aOff = bi * aBatchStride, bOff = bi * bBatchStride, cOff = bi * m * n;
    for (let i = 0; i < m; i++) {
      const aRow = aOff + i * k;
      for (let j = 0; j < n; j++) {
        const bRow = bOff + j * k;
        let acc = bias ? bias[j]! : 0;
        for (let p = 0; p < k; p++) acc += a[aRow + p]! * b[bRow + p]!;
        out[cOff + i * n + j] = acc;
      }
    }
  }
}

export function matmul(a: Float32Array, b: Float32Array, bias: Float32Array | undefined, args: MatmulArgs, out: Float32Array): void {
  product(a, b, bias, args, out);
  if (args.activation) unary(args.activation, out, out);
}

function product(a: Float32Array, b: Float32Array, bias: Float32Array | undefined, args: MatmulArgs, out: Float32Array): void {
  const { batch, m, k, n, transA, transB, aBatchStride, bBatchStride } = args;
  // Few rows against a transposed weight (decoding, small batches): dot products beat packing B.
  if (transB && !transA && m <= 16) { matmulTransB(a, b, bias, args, out); return; }
  const aTmp = new Float32Array(transA ? m * k : 0), bTmp = new Float32Array(transB ? k * n : 0);
  const acc = new Float64Array(n);
  let lastB = -1, B: Float32Array = bTmp;
  for (let bi = 0; bi < batch; bi++) {
    const A = packRowMajor(a, bi * aBatchStride, m, k, transA, aTmp);
    const bOff = bi * bBatchStride;
    if (bOff !== lastB) { B = packRowMajor(b, bOff, k, n, transB, bTmp); lastB = bOff; }
    const cOff = bi * m * n;
    for (let i = 0; i < m; i++) {
      if (bias) for (let j = 0; j < n; j++) acc[j] = bias[j]!; else acc.fill(0);
      const aRow = i * k;
      for (let k0 = 0; k0 < k; k0 += KB) {
        const k1 = Math.min(k, k0 + KB);
        for (let p = k0; p < k1; p++) {
          const av = A[aRow + p]!;
          const bRow = p * n;
          for (let j = 0; j < n; j++) acc[j] += av * B[bRow + j]!;
        }
      }
      for (let j = 0; j < n; j++) out[cOff + i * n + j] = acc[j]!;
    }
  }
}
