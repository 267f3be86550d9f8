// Fused row-wise kernels: softmax, layer/RMS normalisation and cross-entropy, with gradients.
// Each works on [rows, cols] and keeps its row statistics in float64.

export function softmax(x: Float32Array, rows: number, cols: number, log: boolean, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (x[o + c]! > max) max = x[o + c]!;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(x[o + c]! - max);
    if (log) {
      const lse = max + Math.log(sum);
      for (let c = 0; c < cols; c++) out[o + c] = x[o + c]! - lse;
    } else {
      for (let c = 0; c < cols; c++) out[o + c] = Math.exp(x[o + c]! - max) / sum;
    }
  }
}

export function softmaxGrad(y: Float32Array, gy: Float32Array, rows: number, cols: number, log: boolean, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (log) {
      // y = x - lse: dx = gy - softmax * sum(gy)
      let s = 0;
      for (let c = 0; c < cols; c++) s += gy[o + c]!;
      for (let c = 0; c < cols; c++) out[o + c] = gy[o + c]! - Math.exp(y[o + c]!) * s;
    } else {
      // dx = y * (gy - sum(gy * y))
      let s = 0;
      for (let c = 0; c < cols; c++) s += gy[o + c]! * y[o + c]!;
      for (let c = 0; c < cols; c++) out[o + c] = y[o + c]! * (gy[o + c]! - s);
    }
  }
}

export function normalize(x: Float32Array, rows: number, cols: number, eps: number, rms: boolean,
  y: Float32Array, mean: Float32Array, rstd: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mu = 0;
    if (!rms) {
      for (let c = 0; c < cols; c++) mu += x[o + c]!;
      mu /= cols;
    }
    let v = 0;
    for (let c = 0; c < cols; c++) { const d = x[o + c]! - mu; v += d * d; }
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) y[o + c] = (x[o + c]! - mu) * rs;
  }
}

export function normalizeGrad(xhat: Float32Array, rstd: Float32Array, gy: Float32Array, rows: number, cols: number, rms: boolean, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let sg = 0, sgx = 0;
    for (let c = 0; c < cols; c++) { sg += gy[o + c]!; sgx += gy[o + c]! * xhat[o + c]!; }
    const mg = rms ? 0 : sg / cols, mgx = sgx / cols, rs = rstd[r]!;
    for (let c = 0; c < cols; c++) out[o + c] = rs * (gy[o + c]! - mg - xhat[o + c]! * mgx);
  }
}

/** A target must be a class index or ignoreIndex (shared with the wasm backend's native path). */
export function checkTarget(t: number, cols: number, ignoreIndex: number): void {
  if (t !== ignoreIndex && !(t >= 0 && t < cols)) {
    throw new RangeError(`cross_entropy: target ${t} is out of range [0, ${cols}) and is not ignore_index ${ignoreIndex}`);
  }
}

export function crossEntropy(logits: Float32Array, targets: Int32Array, rows: number, cols: number, ignoreIndex: number,
  loss: Float32Array, valid: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    checkTarget(t, cols, ignoreIndex);
    if (t === ignoreIndex) { loss[r] = 0; valid[r] = 0; continue; }
    const o = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (logits[o + c]! > max) max = logits[o + c]!;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(logits[o + c]! - max);
    loss[r] = max + Math.log(sum) - logits[o + t]!;
    valid[r] = 1;
  }
}

export function crossEntropyGrad(logits: Float32Array, targets: Int32Array, gLoss: Float32Array, rows: number, cols: number,
  ignoreIndex: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!, o = r * cols;
    checkTarget(t, cols, ignoreIndex);
    if (t === ignoreIndex) { out.fill(0, o, o + cols); continue; }
    let max = -Infinity;
    for (let c = 0; c < cols; c++) if (logits[o + c]! > max) max = logits[o + c]!;
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(logits[o + c]! - max);
    const g = gLoss[r]!;
    for (let c = 0; c < cols; c++) out[o + c] = g * (Math.exp(logits[o + c]! - max) / sum);
    out[o + t] -= g;
  }
}
