// Rotary embedding over the last axis of x [B, H, T, D] with cos/sin [B, T, D], rotate_half form:
// y = x cos + rotate_half(x) sin. inverse applies the transpose (the gradient).
export function rope(X: Float32Array, C: Float32Array, S: Float32Array, b: number, h: number, t: number, d: number, inverse: boolean, out: Float32Array): void {
  const half = d / 2;
  for (let bi = 0; bi < b; bi++) for (let hi = 0; hi < h; hi++) for (let ti = 0; ti < t; ti++) {
    const xo = ((bi * h + hi) * t + ti) * d, co = (bi * t + ti) * d;
    for (let i = 0; i < d; i++) {
      let r: number;
      if (!inverse) r = i < half ? -X[xo + i + half]! * S[co + i]! : X[xo + i - half]! * S[co + i]!;
      else r = i < half ? X[xo + i + half]! * S[co + i + half]! : -X[xo + i - half]! * S[co + i - half]!;
      out[xo + i] = X[xo + i]! * C[co + i]! + r;
    }
  }
}
