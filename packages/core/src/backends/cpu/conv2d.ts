// Direct 2D convolution (cross-correlation, NCHW, weights [O, C, KH, KW]) and its gradients.
// Loops are ordered so the innermost runs along output columns with one weight in a register.
import type { Conv2dArgs } from '../../backend.ts';

export function conv2d(x: Float32Array, w: Float32Array, bias: Float32Array | undefined, a: Conv2dArgs, y: Float32Array): void {
  const { n, c, h, w: W, o, kh, kw, strideH, strideW, padTop, padLeft, oh, ow } = a;
  const acc = new Float64Array(oh * ow);
  for (let b = 0; b < n; b++) for (let oc = 0; oc < o; oc++) {
    acc.fill(bias ? bias[oc]! : 0);
    for (let ic = 0; ic < c; ic++) {
      const xBase = (b * c + ic) * h * W;
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
        const wv = w[((oc * c + ic) * kh + ky) * kw + kx]!;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * strideH + ky - padTop;
          if (iy < 0 || iy >= h) continue;
          const row = xBase + iy * W;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * strideW + kx - padLeft;
            if (ix >= 0 && ix < W) acc[oy * ow + ox] += wv * x[row + ix]!;
          }
        }
      }
    }
    const yBase = (b * o + oc) * oh * ow;
    for (let p = 0; p < oh * ow; p++) y[yBase + p] = acc[p]!;
  }
}

export function conv2dGradInput(gy: Float32Array, w: Float32Array, a: Conv2dArgs, gx: Float32Array): void {
  const { n, c, h, w: W, o, kh, kw, strideH, strideW, padTop, padLeft, oh, ow } = a;
  for (let b = 0; b < n; b++) for (let oc = 0; oc < o; oc++) {
    const gBase = (b * o + oc) * oh * ow;
    for (let ic = 0; ic < c; ic++) {
      const xBase = (b * c + ic) * h * W;
      for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
        const wv = w[((oc * c + ic) * kh + ky) * kw + kx]!;
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * strideH + ky - padTop;
          if (iy < 0 || iy >= h) continue;
          for (let ox = 0; ox < ow; ox++) {
            const ix = ox * strideW + kx - padLeft;
            if (ix >= 0 && ix < W) gx[xBase + iy * W + ix] += wv * gy[gBase + oy * ow + ox]!;
          }
        }
      }
    }
  }
}

export function conv2dGradWeight(x: Float32Array, gy: Float32Array, a: Conv2dArgs, gw: Float32Array): void {
  const { n, c, h, w: W, o, kh, kw, strideH, strideW, padTop, padLeft, oh, ow } = a;
  for (let oc = 0; oc < o; oc++) for (let ic = 0; ic < c; ic++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
    let acc = 0;
    for (let b = 0; b < n; b++) {
      const gBase = (b * o + oc) * oh * ow, xBase = (b * c + ic) * h * W;
      for (let oy = 0; oy < oh; oy++) {
        const iy = oy * strideH + ky - padTop;
        if (iy < 0 || iy >= h) continue;
        for (let ox = 0; ox < ow; ox++) {
          const ix = ox * strideW + kx - padLeft;
          if (ix >= 0 && ix < W) acc += gy[gBase + oy * ow + ox]! * x[xBase + iy * W + ix]!;
        }
      }
    }
    gw[((oc * c + ic) * kh + ky) * kw + kx] = acc;
  }
}
