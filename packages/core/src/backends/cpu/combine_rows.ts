// out[r, c] = sum_k coefs[k][r] * xs[k][r, c]: the diffusion step primitive (see Backend.combineRows).
export function combineRows(xs: readonly Float32Array[], coefs: readonly Float32Array[], rows: number, cols: number, out: Float32Array): void {
  if (xs.length !== coefs.length || xs.length < 1 || xs.length > 3) {
    throw new Error(`combineRows: needs 1 to 3 inputs with one coefficient vector each, got ${xs.length} and ${coefs.length}`);
  }
  out.fill(0, 0, rows * cols);
  xs.forEach((x, k) => {
    const c = coefs[k]!;
    for (let r = 0; r < rows; r++) {
      const a = c[r]!, o = r * cols;
      for (let j = 0; j < cols; j++) out[o + j] += a * x[o + j]!;
    }
  });
}
