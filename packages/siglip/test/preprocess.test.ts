// The image preprocessor: normalisation to [-1, 1], identity at the model's size, and PIL's
// antialiased bilinear weights (0.25, 0.75, 0.75, 0.25) when halving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createCpuBackend, tidy } from '@reconvla/core';
import { preprocessImages, resizeBilinear, parseSiglipVisionConfig } from '../src/index.ts';

const backend = createCpuBackend();

test('normalises RGB bytes with mean = std = 0.5, channels first', () => {
  tidy(() => {
    const img = { width: 2, height: 1, data: Uint8Array.from([0, 255, 51, 255, 0, 102]) };
    const t = preprocessImages([img], { size: 1, backend });
    assert.deepEqual(t.shape, [1, 3, 1, 1]);
    const v = Array.from(t.dataSync());
    assert.ok(v.every((x) => x >= -1 && x <= 1));
  });
});

test('identity at the target size and exact channel layout', () => {
  tidy(() => {
    const data = Uint8Array.from({ length: 2 * 2 * 3 }, (_, i) => i * 20);
    const t = preprocessImages([{ width: 2, height: 2, data }], { size: 2, backend });
    const got = Array.from(t.dataSync());
    const want: number[] = [];
    for (let c = 0; c < 3; c++) for (let i = 0; i < 4; i++) want.push((data[i * 3 + c]! / 255 - 0.5) / 0.5);
    got.forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-6));
  });
});

test('halving uses the widened triangle filter like PIL', () => {
  const row = [0, 40, 80, 120, 160, 200, 240, 250];
  const data = new Uint8Array(8 * 3);
  row.forEach((v, i) => data.fill(v, i * 3, i * 3 + 3));
  const r = resizeBilinear({ width: 8, height: 1, data }, 4, 1);
  // out[1] = (0.25*40 + 0.75*80 + 0.75*120 + 0.25*160) / 2
  assert.equal(r.data[1 * 3], Math.round((0.25 * 40 + 0.75 * 80 + 0.75 * 120 + 0.25 * 160) / 2));
  // Edge: out[0] uses pixels 0..2 with weights 0.75, 0.75, 0.25 renormalised.
  assert.equal(r.data[0], Math.round((0.75 * 0 + 0.75 * 40 + 0.25 * 80) / 1.75));
});

test('config: nested vision_config, unknown fields named', () => {
  assert.equal(parseSiglipVisionConfig({ vision_config: { hidden_size: 64, num_attention_heads: 4 } }).hiddenSize, 64);
  assert.throws(() => parseSiglipVisionConfig({ hidden_size: 64, num_attention_heads: 4, foo: 1, hidden_act: 'relu' }), /unknown fields "foo".*hidden_act "relu"/);
});

test('property: any resize of a constant image is that constant (each output\'s weights sum to 1, edges included)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 255 }), (w, h, ow, oh, v) => {
    const r = resizeBilinear({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) }, ow, oh);
    return r.width === ow && r.height === oh && r.data.length === ow * oh * 3 && r.data.every((x) => x === v);
  }));
});
