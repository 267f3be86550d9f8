// The float16 storage dtype on every backend: matmul, attention and indexSelect reading halves
// (any mix with float32) against the CPU float32 result on the same f16-rounded inputs, exact
// casts, bf16 -> f16 conversion checked exhaustively against an independent reference, errors,
// and safetensors round trips. WebGPU runs three ways: with shader-f16 (native array<f16>),
// without it (operands widened per call), and with a 4 KiB binding limit (windowed halves).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  bf16BitsToF16Bits, bf16ToF16, createCpuBackend, encodeF16, F, fromSafetensors, nn, noGrad, openCheckpoint, readFloat16Bits,
  saveSafetensors, tidy, writeSafetensors, type Backend, type Tensor,
} from '../src/index.ts';
import { findFixtures, goldenDir, skipOrFail } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';
import { isClose, maxAbsFinite } from '../../../test/helpers/close.ts';

const cpu = createCpuBackend();
const backends = [...await testBackends()];
if (backends.some((b) => b.name === 'webgpu')) {
  const { createWebGPUBackend } = await import('../src/backends/webgpu/index.ts');
  for (const [name, opts] of [['webgpu (no shader-f16)', { shaderF16: false }], ['webgpu (4 KiB bindings)', { maxStorageBufferBindingSize: 4096 }]] as const) {
    try { backends.push({ name, backend: await createWebGPUBackend(opts) }); } catch (e) { backends.push({ name, skip: `no WebGPU adapter: ${(e as Error).message}` }); }
  }
}

function ramp(n: number, seed: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed * 1.37) * scale + Math.cos(i * 0.093 + seed) * 0.25 * scale);
}
/** The float32 values of x rounded to float16 (what a float16 storage of x holds). */
const rounded = (x: Float32Array): Float32Array => F.fromF16Bits(encodeF16(x), [x.length], { backend: cpu }).dataSync() as Float32Array;

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, rel = 1e-5): void {
  assert.equal(got.length, want.length, `${what}: length`);
  // Scaled by the largest finite |want|: an infinite one would let every element pass.
  const max = maxAbsFinite(want);
  for (let i = 0; i < want.length; i++) {
    if (!isClose(got[i]!, want[i]!, rel * (1 + max), 0)) assert.fail(`${what}: element ${i}: ${got[i]} vs ${want[i]} (max |want| ${max})`);
  }
}

test('close fails on a NaN or an infinity in the middle, on either side', () => {
  const ok = [1, 2, 3, 4, 5];
  for (const bad of [NaN, Infinity, -Infinity]) {
    const odd = [1, 2, bad, 4, 5];
    assert.throws(() => close(odd, ok, 'got side', 1e6), /element 2:/);
    assert.throws(() => close(ok, odd, 'want side', 1e6), /element 2:/);
  }
  close([1, Infinity], [1, Infinity], 'equal infinities', 0);
});

/** An operand on backend b as float32 or float16 (holding values that are exact halves either way). */
function operand(b: Backend, values: Float32Array, shape: number[], half: boolean): Tensor {
  const t = F.tensor(rounded(values), shape, { backend: b });
  return half ? t.astype('float16') : t;
}

for (const tb of backends) {
  const skip = tb.skip ?? false;

  test(`float16 on ${tb.name}: matmul and linear (transposed operands, batch strides, odd sizes, any mix) match float32 on the rounded inputs`, { skip }, async () => {
    const b = tb.backend!;
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 29 }),
      fc.constantFrom(0, 1, 2), fc.boolean(), fc.integer({ min: 0, max: 1000 }),
      async (batch, m, k, n, mix, bShared, seed) => {
        const aHalf = mix !== 1, bHalf = mix !== 0;
        const av = ramp(batch * m * k, seed), bv = ramp((bShared ? 1 : batch) * k * n, seed + 1, 0.5);
        const bShape = bShared ? [k, n] : [batch, k, n];
        const [got, gotT, gotLin] = tidy(() => {
          const A = operand(b, av, [batch, m, k], aHalf), B = operand(b, bv, bShape, bHalf);
          const Bt = operand(b, F.tensor(bv, bShape, { backend: cpu }).transpose(-2, -1).dataSync() as Float32Array, bShared ? [n, k] : [batch, n, k], bHalf);
          return [F.matmul(A, B), F.matmul(A.transpose(-2, -1).transpose(-2, -1), B), F.linear(A, Bt.reshape(bShared ? [n, k] : [batch * n, k]).slice(0, 0, n))];
        });
        for (const t of [got, gotT, gotLin]) assert.equal(t.dtype, 'float32');
        const want = F.matmul(F.tensor(rounded(av), [batch, m, k], { backend: cpu }), F.tensor(rounded(bv), bShape, { backend: cpu }));
        close(await got.data(), want.dataSync(), `matmul b${batch} ${m}x${k}x${n} mix ${mix}`);
        close(await gotT.data(), want.dataSync(), 'matmul via a transposed view');
        const wantLin = F.matmul(F.tensor(rounded(av), [batch, m, k], { backend: cpu }), F.tensor(rounded(bv).subarray(0, k * n), [k, n], { backend: cpu }));
        close(await gotLin.data(), wantLin.dataSync(), 'linear (transB, weight [n, k])');
        for (const t of [got, gotT, gotLin]) t.dispose();
      }), { numRuns: 12, seed: 16 });
  });

  test(`float16 on ${tb.name}: backend matmul of float16 storages with transA/transB and batch strides (0 shares an operand)`, { skip }, async () => {
    const b = tb.backend!;
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 23 }), fc.integer({ min: 1, max: 41 }), fc.integer({ min: 1, max: 19 }),
      fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 1000 }),
      async (batch, m, k, n, transA, transB, aShared, bHalfOnly, seed) => {
        const av = rounded(ramp((aShared ? 1 : batch) * m * k, seed)), bv = rounded(ramp(batch * k * n, seed + 7));
        const args = { batch, m, k, n, transA, transB, aBatchStride: aShared ? 0 : m * k, bBatchStride: k * n };
        const want = cpu.readSync(cpu.matmul(cpu.fromArray(av), cpu.fromArray(bv), args));
        const a = bHalfOnly ? b.fromArray(av) : b.fromArray(encodeF16(av)), bs = b.fromArray(encodeF16(bv));
        assert.equal(bs.dtype, 'float16');
        const out = b.matmul(a, bs, args);
        assert.equal(out.dtype, 'float32');
        close(await b.read(out), want, `matmul b${batch} ${m}x${k}x${n} transA ${transA} transB ${transB} aShared ${aShared}`);
        for (const s of [a, bs, out]) b.free(s);
      }), { numRuns: 16, seed: 61 });
  });

  // Attention has no windowed path for operands over one binding (any dtype), so not at 4 KiB.
  const attentionSkip = skip;
  test(`float16 on ${tb.name}: attention with float16 q/k/v (causal, GQA, masks, odd head dims) matches float32 on the rounded inputs`, { skip: attentionSkip }, async () => {
    const b = tb.backend!;
    const cases: [number, number, number, number, number, number, number, boolean, 'none' | 'bool' | 'float'][] = [
      // batch, heads, kvHeads, tq, tk, dim, dimV, causal, mask
      [1, 2, 2, 5, 5, 8, 8, true, 'none'],
      [2, 4, 2, 3, 7, 13, 5, false, 'bool'],
      [1, 3, 1, 9, 9, 64, 64, true, 'float'],
      [2, 2, 1, 1, 11, 6, 10, true, 'none'],
    ];
    for (const [i, [batch, heads, kvHeads, tq, tk, dim, dimV, causal, maskKind]] of cases.entries()) {
      const qv = ramp(batch * heads * tq * dim, i), kv = ramp(batch * kvHeads * tk * dim, i + 10), vv = ramp(batch * kvHeads * tk * dimV, i + 20);
      const maskV = Float32Array.from({ length: batch * tq * tk }, (_, j) => (maskKind === 'bool' ? (j % 3 === 1 ? 0 : 1) : Math.sin(j)));
      const mk = (be: Backend) => maskKind === 'none' ? null : maskKind === 'bool'
        ? F.tensor(Int32Array.from(maskV), [batch, 1, tq, tk], { backend: be }) : F.tensor(maskV, [batch, 1, tq, tk], { backend: be });
      const want = F.scaledDotProductAttention(F.tensor(rounded(qv), [batch, heads, tq, dim], { backend: cpu }), F.tensor(rounded(kv), [batch, kvHeads, tk, dim], { backend: cpu }),
        F.tensor(rounded(vv), [batch, kvHeads, tk, dimV], { backend: cpu }), { causal, mask: mk(cpu) }).dataSync();
      for (const halves of [[true, true, true], [false, true, true], [true, false, false]]) {
        const got = F.scaledDotProductAttention(operand(b, qv, [batch, heads, tq, dim], halves[0]!), operand(b, kv, [batch, kvHeads, tk, dim], halves[1]!),
          operand(b, vv, [batch, kvHeads, tk, dimV], halves[2]!), { causal, mask: mk(b) });
        assert.equal(got.dtype, 'float32');
        close(await got.data(), want, `attention case ${i} halves ${halves}`);
      }
    }
  });

  test(`float16 on ${tb.name}: gradients flow to float32 operands through float16 weights`, { skip: attentionSkip }, async () => {
    const b = tb.backend!;
    const xv = ramp(6 * 10, 1), wv = ramp(7 * 10, 2), kvv = ramp(2 * 5 * 10, 3);
    const run = (be: Backend, half: boolean) => {
      const x = F.tensor(xv, [6, 10], { backend: be, requiresGrad: true });
      const w = operand(be, wv, [7, 10], half);
      const kv = operand(be, kvv, [1, 2, 5, 10], half);
      const q = F.linear(x, F.concat([w, w.slice(0, 0, 3)], 0)).reshape(1, 1, 6, 10);
      const y = F.scaledDotProductAttention(q.expand(1, 2, 6, 10), kv, kv, { causal: true });
      y.square().sum().backward();
      return x.grad!;
    };
    close(await run(b, true).data(), run(cpu, false).dataSync(), 'dx through f16 linear + attention', 1e-4);
  });

  test(`float16 on ${tb.name}: casts round to nearest even exactly as PyTorch (dtypes golden), indexSelect reads half tables`, { skip }, async (t) => {
    const b = tb.backend!;
    const [file] = findFixtures(/^dtypes/);
    if (!file) { skipOrFail(t, `no dtypes*.safetensors in the golden folder ${goldenDir()}`); return; }
    const src = openCheckpoint(file);
    const values = src.readFloat32('input.values.f32'), torchHalf = src.readFloat32('output.values.f16_as_f32');
    const bits = readFloat16Bits(src, 'input.values.f16');
    // Sizes come from the fixture (other fixture sets use other shapes): a table of `rows` rows.
    const shape = src.info('input.values.f32').shape;
    src.close();
    const n = values.length, rowCount = shape.length >= 2 ? shape[0]! : n, cols = n / rowCount;
    const h = F.tensor(values, [rowCount, cols], { backend: b }).astype('float16');
    assert.equal(h.dtype, 'float16');
    assert.deepEqual(await h.data(), torchHalf, 'astype(float16) vs torch .half()');
    assert.deepEqual(await F.fromF16Bits(bits, [rowCount, cols], { backend: b }).data(), torchHalf, 'F16 bits upload');
    // Rows of the table (first, last, middle twice), scrambled, with repeats: exact (subnormals, -0, inf, NaN).
    const mid = rowCount >> 1;
    const ids = [rowCount - 1, 0, mid, mid, Math.min(1, rowCount - 1)];
    const rows = F.embedding(F.tensor(ids, [ids.length], { backend: b, dtype: 'int32' }), h);
    assert.equal(rows.dtype, 'float32');
    assert.deepEqual(await rows.data(), Float32Array.from(ids.flatMap((r) => [...torchHalf.subarray(r * cols, (r + 1) * cols)])));
    // Odd element counts (a half word), round trips through float32, int32 <-> float16 via float32.
    const oddN = Math.min(7, n % 2 === 1 ? n : n - 1);
    const odd = F.tensor(values.subarray(0, oddN), [oddN], { backend: b }).astype('float16');
    assert.deepEqual(await odd.data(), torchHalf.subarray(0, oddN));
    assert.deepEqual(await odd.astype('float32').astype('float16').data(), torchHalf.subarray(0, oddN));
    assert.deepEqual(await F.tensor([1, -2, 3000], [3], { backend: b, dtype: 'int32' }).astype('float16').data(), Float32Array.of(1, -2, 3000));
    assert.deepEqual(await F.tensor([1.5, -2.5, 7.9], [3], { backend: b, dtype: 'float16' }).astype('int32').data(), Int32Array.of(1, -2, 7));
    assert.deepEqual(await F.full([5], -1.25e-7, { backend: b, dtype: 'float16' }).data(), new Float32Array(5).fill(1.1920928955078125e-7 * -1));
    // Moving between backends keeps float16 (and the exact values).
    const moved = await odd.to(b === cpu ? backends[1]!.backend ?? cpu : cpu);
    assert.equal(moved.dtype, 'float16');
    assert.deepEqual(await moved.data(), torchHalf.subarray(0, oddN));
    // Larger than a 4 KiB binding: windowed casts and a windowed half table (odd row length).
    const big = ramp(300 * 7, 5, 100);
    const table = F.tensor(big, [300, 7], { backend: b }).astype('float16');
    assert.deepEqual(await table.data(), rounded(big));
    const pick = [299, 0, 150, 37, 37, 200];
    assert.deepEqual(await F.embedding(F.tensor(pick, [6], { backend: b, dtype: 'int32' }), table).data(),
      Float32Array.from(pick.flatMap((r) => [...rounded(big).subarray(r * 7, r * 7 + 7)])));
    if (b.name === 'webgpu' && !tb.name.includes('no shader-f16')) {
      const rt = (b as unknown as { rt: { hasF16: boolean; acquired: { adapter: GPUAdapter } } }).rt;
      assert.equal(rt.hasF16, rt.acquired.adapter.features.has('shader-f16'), 'the native array<f16> path is used where offered');
    }
  });
}

// --- bf16 -> f16, checked over all 65536 patterns against a reference built from values ------

/** float16 bits of the double x by value arithmetic (not bit tricks): the nearest float16 with
 * ties to the even significand, inf at or beyond 65520, sign kept for zeros. */
function referenceF16Bits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return -1; // checked by class below
  if (a >= 65520) return sign | 0x7c00;
  const e = Math.max(Math.floor(Math.log2(a || 1)), -14);
  const ulp = 2 ** (e - 10);
  const q = a / ulp; // exact: a has <= 8 significant bits and ulp is a power of two
  let r = Math.floor(q);
  if (q - r > 0.5 || (q - r === 0.5 && r % 2 === 1)) r++;
  const v = r * ulp; // may have carried into the next binade
  if (v === 0) return sign;
  if (v < 2 ** -14) return sign | (v / 2 ** -24);
  const ve = Math.floor(Math.log2(v));
  return sign | ((ve + 15) << 10) | (v / 2 ** ve - 1) * 1024;
}

test('bf16 -> f16: every bfloat16 pattern matches the value-arithmetic reference (ties, subnormals, overflow, NaN/inf)', () => {
  const view = new DataView(new ArrayBuffer(4));
  let ties = 0, subnormals = 0, overflows = 0;
  for (let b = 0; b < 65536; b++) {
    view.setUint32(0, b << 16);
    const x = view.getFloat32(0);
    const got = bf16BitsToF16Bits(b);
    if (Number.isNaN(x)) {
      assert.equal(got & 0x7c00, 0x7c00, `NaN ${b.toString(16)} stays NaN`);
      assert.notEqual(got & 0x3ff, 0, `NaN ${b.toString(16)} does not become inf`);
      assert.equal(got & 0x8000, (b & 0x8000), 'NaN sign kept');
      continue;
    }
    const want = referenceF16Bits(x);
    if (got !== want) assert.fail(`bf16 ${b.toString(16)} (${x}): got ${got.toString(16)}, want ${want.toString(16)}`);
    const a = Math.abs(x);
    if (a < 65520 && a >= 2 ** -24 && (a / 2 ** (Math.max(Math.floor(Math.log2(a)), -14) - 10)) % 1 === 0.5) ties++;
    if ((want & 0x7c00) === 0 && (want & 0x3ff) !== 0) subnormals++;
    if (Number.isFinite(x) && (want & 0x7fff) === 0x7c00) overflows++;
  }
  assert.ok(ties > 100 && subnormals > 100 && overflows > 1000, `coverage: ${ties} ties, ${subnormals} subnormals, ${overflows} overflows`);
  // The array form reports the first finite value that overflowed.
  const seen: number[] = [];
  bf16ToF16(Uint16Array.of(0x3f80, 0x7f80, 0x4780, 0x477f, 0xc780), (i) => seen.push(i));
  assert.deepEqual(seen, [2, 4], '65536 and -65536 overflow; inf and 65280 do not');
});

// --- errors ------------------------------------------------------------------------------------

test('float16 errors: requiresGrad, int32 operands, freezing by Module.half(), wrong sizes', () => {
  const h = F.tensor([1, 2, 3], [3], { backend: cpu, dtype: 'float16' });
  assert.throws(() => h.requiresGrad_(true), /\[3\] is float16, a storage dtype for frozen weights; gradients are float32 only/);
  assert.throws(() => F.tensor([1], [1], { backend: cpu, dtype: 'float16', requiresGrad: true }), /float16/);
  assert.throws(() => F.matmul(F.tensor([1, 2, 3], [1, 3], { backend: cpu, dtype: 'int32' }), h.reshape(3, 1)), /matmul: expected a float32 or float16 tensor, got int32 \[1, 3\]/);
  assert.throws(() => F.fromF16Bits(new Uint16Array(5), [2, 3]), /fromF16Bits: 5 values do not fill shape \[2, 3\]/);
  const lin = new nn.Linear(4, 3, { backend: cpu });
  lin.weight.name = 'weight';
  lin.half();
  assert.equal(lin.weight.dtype, 'float16');
  assert.equal(lin.weight.requiresGrad, false, 'converted weights are frozen');
  assert.equal(lin.bias!.dtype, 'float32', 'biases stay float32');
  assert.throws(() => lin.weight.requiresGrad_(true), /"weight" \[3, 4\] is float16/);
  assert.throws(() => lin.weight.assign(F.zeros([3, 4], { backend: cpu })), /assign: weight is \[3, 4\] float16, got \[3, 4\] float32/);
  // Every other op casts float16 on use: elementwise, reductions, softmax, layout copies.
  assert.deepEqual(h.mul(2).dataSync(), Float32Array.of(2, 4, 6));
  assert.deepEqual(F.softmax(h).dtype, 'float32');
  assert.deepEqual(h.reshape(3, 1).transpose(0, 1).dataSync(), Float32Array.of(1, 2, 3));
  assert.equal(h.reshape(1, 3).dtype, 'float16', 'reshape shares the half storage');
});

test('Module.half(): rank-2 parameters become float16, the output stays within float16 rounding of float32', () => {
  const emb = new nn.Embedding(11, 6, { backend: cpu });
  const lin = new nn.Linear(6, 5, { backend: cpu });
  const ids = F.tensor([3, 10, 0], [3], { backend: cpu, dtype: 'int32' });
  const before = noGrad(() => lin.forward(emb.forward(ids))).dataSync();
  const rounded = noGrad(() => F.linear(F.embedding(ids, emb.weight.astype('float16')), lin.weight.astype('float16').astype('float32'), lin.bias)).dataSync();
  emb.half(); lin.half();
  assert.equal(emb.weight.dtype, 'float16');
  const after = noGrad(() => lin.forward(emb.forward(ids))).dataSync();
  close(after, rounded, 'half module vs float32 on rounded weights', 1e-6);
  close(after, before, 'half module vs float32 (f16 rounding: 2^-11 relative per weight)', 4e-3);
});

// --- safetensors ---------------------------------------------------------------------------------

test('safetensors: float16 tensors round trip as F16; BF16/F32 convert on upload; out of range names the tensor', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'f16-'));
  try {
    const values = Float32Array.of(0, -0, 1, -2.5, 65504, 6e-8, 0.1, -1e-5, Infinity, NaN, 3.14159);
    const h = F.tensor(values, [11], { backend: cpu, dtype: 'float16' });
    const file = path.join(dir, 'h.safetensors');
    await saveSafetensors(file, { h, f: F.tensor([1, 2], [2], { backend: cpu }) });
    const src = openCheckpoint(file);
    assert.equal(src.info('h').dtype, 'F16');
    assert.equal(src.info('f').dtype, 'F32');
    assert.deepEqual(readFloat16Bits(src, 'h'), encodeF16(values), 'F16 bits are what float16 stored');
    src.close();
    const back = fromSafetensors(file, { backend: cpu, float16: (name) => name === 'h' });
    assert.equal(back.get('h')!.dtype, 'float16');
    assert.equal(back.get('f')!.dtype, 'float32');
    assert.deepEqual(back.get('h')!.dataSync(), h.dataSync());
    assert.equal(fromSafetensors(file, { backend: cpu }).get('h')!.dtype, 'float32', 'float32 unless asked');

    // BF16 and F32 entries: rounded to nearest even on upload; 70000 is an error naming the tensor.
    const bf = path.join(dir, 'bf.safetensors');
    const ok = Float32Array.of(1.00390625, -3.0e-6, 1000.5, 65280);
    writeSafetensors(bf, { 'w.ok': { dtype: 'BF16', shape: [4], data: ok }, 'w.big': { dtype: 'BF16', shape: [2], data: Float32Array.of(1, 70000) }, 'x.f32': { dtype: 'F32', shape: [4], data: ok } });
    const loaded = fromSafetensors(bf, { backend: cpu, float16: (name) => name !== 'w.big' });
    const wantOk = F.tensor(F.tensor(ok, [4], { backend: cpu }).astype('float16').dataSync() as Float32Array, [4], { backend: cpu });
    assert.deepEqual(loaded.get('x.f32')!.dataSync(), wantOk.dataSync());
    assert.equal(loaded.get('w.big')!.dtype, 'float32');
    assert.throws(() => fromSafetensors(bf, { backend: cpu, float16: true }), /tensor "w\.big": value 70144 at element 1 is outside float16's range/);
    assert.throws(() => fromSafetensors(bf, { backend: cpu, names: ['x.f32'], float16: () => true }) && readFloat16Bits(openCheckpoint(bf), 'nope'), /no tensor "nope"/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
