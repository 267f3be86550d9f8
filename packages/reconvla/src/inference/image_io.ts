// Small RGB image helpers for the pictures inference writes: tensors in [-1, 1] to bytes,
// nearest-neighbour enlargement, side-by-side rows, and PNG encoding (pngjs).
import { PNG } from 'pngjs';

export interface RgbBytes { width: number; height: number; data: Uint8Array }

/** A [3, H, W] tensor's values in [-1, 1] as interleaved RGB bytes. */
export function chwToRgb(values: ArrayLike<number>, height: number, width: number): RgbBytes {
  const data = new Uint8Array(height * width * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < height * width; i++) {
      const v = (values[c * height * width + i]! + 1) * 127.5;
      data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return { width, height, data };
}

/** Nearest-neighbour resize (pictures only: keeps pixels visible as blocks). */
export function resizeNearest(img: RgbBytes, width: number, height: number): RgbBytes {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(img.height - 1, Math.floor((y * img.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(img.width - 1, Math.floor((x * img.width) / width));
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = img.data[(sy * img.width + sx) * 3 + c]!;
    }
  }
  return { width, height, data };
}

/** Images side by side (same height), separated by a dark gap. */
export function sideBySide(images: readonly RgbBytes[], gap = 4): RgbBytes {
  const height = Math.max(...images.map((i) => i.height));
  const width = images.reduce((s, i) => s + i.width, 0) + gap * (images.length - 1);
  const data = new Uint8Array(width * height * 3).fill(24);
  let x0 = 0;
  for (const img of images) {
    for (let y = 0; y < img.height; y++) data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), (y * width + x0) * 3);
    x0 += img.width + gap;
  }
  return { width, height, data };
}

/** Images stacked vertically (same width). */
export function stacked(images: readonly RgbBytes[], gap = 4): RgbBytes {
  const width = Math.max(...images.map((i) => i.width));
  const height = images.reduce((s, i) => s + i.height, 0) + gap * (images.length - 1);
  const data = new Uint8Array(width * height * 3).fill(24);
  let y0 = 0;
  for (const img of images) {
    for (let y = 0; y < img.height; y++) data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y0 + y) * width) * 3);
    y0 += img.height + gap;
  }
  return { width, height, data };
}

export function encodePng(img: RgbBytes): Buffer {
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}
