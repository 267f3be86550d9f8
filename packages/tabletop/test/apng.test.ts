import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { encodeApng, encodePng, decodePng, hstack, drawBox, type Image } from '../src/index.ts';

const solid = (w: number, h: number, c: number): Image => ({ width: w, height: h, rgb: new Uint8Array(w * h * 3).fill(c) });

test('APNG: valid PNG whose default image is the first frame, with one fcTL per frame', () => {
  const frames = [solid(5, 4, 10), solid(5, 4, 200), solid(5, 4, 90)];
  const bytes = encodeApng(frames, 50);
  const png = PNG.sync.read(bytes); // checks the CRCs of the chunks it reads
  assert.equal(png.width, 5);
  assert.equal(png.data[0], 10);
  const text = bytes.toString('latin1');
  assert.equal(text.split('fcTL').length - 1, 3);
  assert.equal(text.split('fdAT').length - 1, 2);
  assert.ok(text.indexOf('acTL') < text.indexOf('IDAT'));
  assert.throws(() => encodeApng([solid(5, 4, 0), solid(4, 4, 0)]), /frame 1 is 4x4, frame 0 is 5x4/);
});

test('PNG round trip, side-by-side composition and boxes', () => {
  const a = solid(4, 3, 50), b = solid(2, 2, 100);
  const c = hstack([a, b], 1);
  assert.equal(c.width, 7);
  assert.equal(c.height, 3);
  drawBox(c, { x0: 0, y0: 0, x1: 2, y1: 2 }, [1, 2, 3]);
  assert.deepEqual([...c.rgb.subarray(0, 3)], [1, 2, 3]);
  assert.deepEqual(decodePng(encodePng(c)), c);
});
