// SiglipImageProcessor: resize an RGB uint8 image to image_size x image_size (PIL bilinear, which
// widens its triangle filter when shrinking, i.e. antialiases), keep uint8 rounding as PIL does,
// rescale by 1/255 and normalise with mean = std = 0.5, giving values in [-1, 1].
import { F, type Backend, type Tensor } from '@reconvla/core';

export interface RgbImage {
  /** Row-major height x width x 3 bytes (RGB). */
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export interface PreprocessOptions {
  size: number;
  mean?: [number, number, number];
  std?: [number, number, number];
  backend?: Backend;
}

/**
 * PIL's separable resampling weights along one axis (bilinear = triangle filter, support 1), flat:
 * output o reads `taps` inputs from start[o], weights[o * taps ..] (zero-padded past the edge).
 */
interface AxisWeights { start: Int32Array; taps: number; weights: Float64Array }

function resampleWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const rows: { lo: number; w: number[] }[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    const w: number[] = [];
    for (let i = lo; i < hi; i++) w.push(Math.max(0, 1 - Math.abs((i - center + 0.5) / filterScale)));
    const total = w.reduce((a, b) => a + b, 0);
    rows.push({ lo, w: w.map((x) => (total > 0 ? x / total : 0)) });
  }
  const taps = Math.max(0, ...rows.map((r) => r.w.length));
  const start = new Int32Array(outSize), weights = new Float64Array(outSize * taps);
  rows.forEach((r, o) => {
    // A row cut short by the edge keeps its taps in range: shift its start back, pad zeros in front.
    const pad = Math.min(taps - r.w.length, r.lo);
    start[o] = r.lo - pad;
    weights.set(r.w, o * taps + pad);
  });
  return { start, taps, weights };
}

// Training resizes every frame of every batch to the same few sizes: compute each axis's weights once.
const weightCache = new Map<string, AxisWeights>();
function cachedWeights(inSize: number, outSize: number): AxisWeights {
  const key = `${inSize}>${outSize}`;
  let w = weightCache.get(key);
  if (!w) weightCache.set(key, (w = resampleWeights(inSize, outSize)));
  return w;
}

const round8 = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));

/**
 * One separable pass: out[p, o, c] = round8(sum_k w[o, k] * src[p, start[o] + k, c]) for every
 * position p across the axis (`lines` of them). `along` and `across` are the element strides.
 */
function resamplePass(src: ArrayLike<number>, dst: Uint8Array, ax: AxisWeights, lines: number, outSize: number, srcAlong: number, srcAcross: number, dstAlong: number, dstAcross: number): void {
  const { start, taps, weights } = ax;
  for (let p = 0; p < lines; p++) {
    for (let o = 0; o < outSize; o++) {
      const wo = o * taps, d = p * dstAcross + o * dstAlong;
      let r = 0, g = 0, b = 0;
      for (let k = 0, s = p * srcAcross + start[o]! * srcAlong; k < taps; k++, s += srcAlong) {
        const w = weights[wo + k]!;
        r += w * src[s]!;
        g += w * src[s + 1]!;
        b += w * src[s + 2]!;
      }
      dst[d] = round8(r);
      dst[d + 1] = round8(g);
      dst[d + 2] = round8(b);
    }
  }
}

/** Bilinear resize of an RGB uint8 image, horizontal pass then vertical, each rounded to uint8 like PIL. */
export function resizeBilinear(img: RgbImage, outW: number, outH: number): RgbImage {
  if (img.width === outW && img.height === outH) return { data: Uint8Array.from(img.data), width: outW, height: outH };
  const hx = cachedWeights(img.width, outW), vy = cachedWeights(img.height, outH);
  const tmp = new Uint8Array(img.height * outW * 3);
  resamplePass(img.data, tmp, hx, img.height, outW, 3, img.width * 3, 3, outW * 3);
  const out = new Uint8Array(outH * outW * 3);
  resamplePass(tmp, out, vy, outW, outH, outW * 3, 3, outW * 3, 3);
  return { data: out, width: outW, height: outH };
}

/** Images -> pixel_values [N, 3, size, size] float32, normalised ((x/255 - mean) / std). */
export function preprocessImages(images: readonly RgbImage[], opts: PreprocessOptions): Tensor {
  const { size } = opts, mean = opts.mean ?? [0.5, 0.5, 0.5], std = opts.std ?? [0.5, 0.5, 0.5];
  const out = new Float32Array(images.length * 3 * size * size);
  images.forEach((img, n) => {
    if (img.data.length !== img.width * img.height * 3) throw new Error(`preprocess: image ${n} has ${img.data.length} bytes, expected ${img.width}x${img.height}x3`);
    const r = resizeBilinear(img, size, size);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < size * size; i++) {
        out[((n * 3 + c) * size * size) + i] = (r.data[i * 3 + c]! / 255 - mean[c]!) / std[c]!;
      }
    }
  });
  return F.tensor(out, [images.length, 3, size, size], opts.backend ? { backend: opts.backend } : {});
}
