// Small helpers on RGB images: composing views side by side, drawing boxes, cropping
// and resizing, and PNG encoding (through pngjs).
import { PNG } from 'pngjs';
import type { Image } from './raster.ts';

export type { Image };

/** An axis-aligned pixel box: x0, y0 inclusive, x1, y1 exclusive. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function copyImage(img: Image): Image {
  return { width: img.width, height: img.height, rgb: img.rgb.slice() };
}

/** Nearest-neighbour scaling by an integer factor (for looking at small frames). */
export function upscale(img: Image, k: number): Image {
  const W = img.width * k, H = img.height * k;
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = ((Math.floor(y / k) * img.width) + Math.floor(x / k)) * 3, d = (y * W + x) * 3;
      out[d] = img.rgb[s] as number; out[d + 1] = img.rgb[s + 1] as number; out[d + 2] = img.rgb[s + 2] as number;
    }
  }
  return { width: W, height: H, rgb: out };
}

/** Images placed left to right, top-aligned, with a gap, on a dark background. */
export function hstack(images: readonly Image[], gap = 4, bg: readonly [number, number, number] = [24, 24, 28]): Image {
  const W = images.reduce((s, im) => s + im.width, 0) + gap * Math.max(0, images.length - 1);
  const H = Math.max(...images.map((im) => im.height));
  const rgb = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) { rgb[i * 3] = bg[0]; rgb[i * 3 + 1] = bg[1]; rgb[i * 3 + 2] = bg[2]; }
  let x0 = 0;
  for (const im of images) {
    for (let y = 0; y < im.height; y++) rgb.set(im.rgb.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y * W + x0) * 3);
    x0 += im.width + gap;
  }
  return { width: W, height: H, rgb };
}

/** Images placed top to bottom, left-aligned. */
export function vstack(images: readonly Image[], gap = 4): Image {
  const W = Math.max(...images.map((im) => im.width));
  const H = images.reduce((s, im) => s + im.height, 0) + gap * Math.max(0, images.length - 1);
  const rgb = new Uint8Array(W * H * 3).fill(24);
  let y0 = 0;
  for (const im of images) {
    for (let y = 0; y < im.height; y++) rgb.set(im.rgb.subarray(y * im.width * 3, (y + 1) * im.width * 3), (y0 + y) * W * 3);
    y0 += im.height + gap;
  }
  return { width: W, height: H, rgb };
}

/** Draw a 1-pixel rectangle outline, in place. */
export function drawBox(img: Image, box: Box, color: readonly [number, number, number] = [255, 40, 200]): void {
  const put = (x: number, y: number): void => {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    const i = (y * img.width + x) * 3;
    img.rgb[i] = color[0]; img.rgb[i + 1] = color[1]; img.rgb[i + 2] = color[2];
  };
  for (let x = box.x0; x < box.x1; x++) { put(x, box.y0); put(x, box.y1 - 1); }
  for (let y = box.y0; y < box.y1; y++) { put(box.x0, y); put(box.x1 - 1, y); }
}

/**
 * Crop `box` out of the image and resize it to size x size with bilinear sampling, writing
 * into `out` (size*size*3 bytes) at `offset`. The box is first grown to a square around its
 * centre so the crop keeps the object's aspect ratio.
 */
export function cropResize(img: Image, box: Box, size: number, out: Uint8Array, offset = 0): void {
  const cx = (box.x0 + box.x1) / 2, cy = (box.y0 + box.y1) / 2;
  const side = Math.max(box.x1 - box.x0, box.y1 - box.y0, 1);
  const sx0 = cx - side / 2, sy0 = cy - side / 2, step = side / size;
  const W = img.width, H = img.height, src = img.rgb;
  for (let y = 0; y < size; y++) {
    const fy = Math.min(H - 1, Math.max(0, sy0 + (y + 0.5) * step - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(H - 1, y0 + 1), ty = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = Math.min(W - 1, Math.max(0, sx0 + (x + 0.5) * step - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(W - 1, x0 + 1), tx = fx - x0;
      const o = offset + (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const a = src[(y0 * W + x0) * 3 + c] as number, b = src[(y0 * W + x1) * 3 + c] as number;
        const d = src[(y1 * W + x0) * 3 + c] as number, e = src[(y1 * W + x1) * 3 + c] as number;
        out[o + c] = Math.round((a * (1 - tx) + b * tx) * (1 - ty) + (d * (1 - tx) + e * tx) * ty);
      }
    }
  }
}

/** PNG bytes of an RGB image. */
export function encodePng(img: Image): Buffer {
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.rgb.buffer, img.rgb.byteOffset, img.rgb.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}

/** Decode PNG bytes into an RGB image. */
export function decodePng(bytes: Buffer): Image {
  const png = PNG.sync.read(bytes);
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) {
    rgb[i * 3] = png.data[i * 4] as number; rgb[i * 3 + 1] = png.data[i * 4 + 1] as number; rgb[i * 3 + 2] = png.data[i * 4 + 2] as number;
  }
  return { width: png.width, height: png.height, rgb };
}
