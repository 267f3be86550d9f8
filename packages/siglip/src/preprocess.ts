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

/** PIL's separable resampling weights along one axis (bilinear = triangle filter, support 1). */
function resampleWeights(inSize: number, outSize: number): { start: number[]; weights: number[][] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const start: number[] = [], weights: number[][] = [];
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inSize, Math.floor(center + support + 0.5));
    const w: number[] = [];
    for (let i = lo; i < hi; i++) w.push(Math.max(0, 1 - Math.abs((i - center + 0.5) / filterScale)));
    const total = w.reduce((a, b) => a + b, 0);
    start.push(lo);
    weights.push(w.map((x) => (total > 0 ? x / total : 0)));
  }
  return { start, weights };
}

/** Bilinear resize of an RGB uint8 image, horizontal pass then vertical, each rounded to uint8 like PIL. */
export function resizeBilinear(img: RgbImage, outW: number, outH: number): RgbImage {
  if (img.width === outW && img.height === outH) return { data: Uint8Array.from(img.data), width: outW, height: outH };
  const round8 = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));
  const hx = resampleWeights(img.width, outW), vy = resampleWeights(img.height, outH);
  const tmp = new Uint8Array(img.height * outW * 3);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        hx.weights[x]!.forEach((w, k) => { acc += w * img.data[(y * img.width + hx.start[x]! + k) * 3 + c]!; });
        tmp[(y * outW + x) * 3 + c] = round8(acc);
      }
    }
  }
  const out = new Uint8Array(outH * outW * 3);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        vy.weights[y]!.forEach((w, k) => { acc += w * tmp[((vy.start[y]! + k) * outW + x) * 3 + c]!; });
        out[(y * outW + x) * 3 + c] = round8(acc);
      }
    }
  }
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
