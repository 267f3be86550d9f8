// The WebGPU runtime around the kernels: memory accounting and reuse, tensors over the storage
// binding limit (through a lowered limit), error reporting, readSync, describeWebGPU.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Backend, MatmulArgs, Storage } from '../src/backend.ts';
import { createCpuBackend } from '../src/backends/cpu/index.ts';
import { createWebGPUBackend, describeWebGPU, type WebGPUBackend } from '../src/backends/webgpu/index.ts';
import { shaderSource } from '../src/backends/webgpu/shaders.ts';
import { vectorWidth } from '../src/backends/webgpu/ops/layout.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { isClose } from '../../../test/helpers/close.ts';

const cpu = createCpuBackend();
const gpuOrError: WebGPUBackend | Error = await createWebGPUBackend().catch((e: unknown) => e as Error);
// 4 KiB bindings: every op below has to split its operands into windows.
const smallOrError: WebGPUBackend | Error = gpuOrError instanceof Error ? gpuOrError
  : await createWebGPUBackend({ maxStorageBufferBindingSize: 4096 }).catch((e: unknown) => e as Error);

function gpuTest(name: string, fn: (gpu: WebGPUBackend, small: WebGPUBackend) => Promise<void>): void {
  test(`webgpu runtime: ${name}`, async (t: TestContext) => {
    if (gpuOrError instanceof Error) { t.skip(`no WebGPU adapter: ${gpuOrError.message}`); return; }
    if (smallOrError instanceof Error) throw smallOrError;
    await fn(gpuOrError, smallOrError);
  });
}

function ramp(n: number, scale = 1e-3): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + i * scale);
}

async function assertClose(gpu: Backend, what: string, got: Storage, want: Float32Array | Int32Array, tol: number): Promise<void> {
  const have = await gpu.read(got);
  assert.equal(have.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    // isClose: a NaN never matches, an infinity only the same infinity.
    if (!isClose(have[i]!, want[i]!, tol, tol)) assert.fail(`${what}: element ${i}: ${have[i]} vs ${want[i]}`);
  }
}

test('assertClose fails on a NaN or an infinity in the middle (needs no adapter: reads CPU storages)', async () => {
  for (const bad of [NaN, Infinity, -Infinity]) {
    const have = Float32Array.of(1, 2, bad, 4, 5), want = Float32Array.of(1, 2, 3, 4, 5);
    await assert.rejects(assertClose(cpu, 'got side', cpu.fromArray(have), want, 1e6), /element 2:/);
    await assert.rejects(assertClose(cpu, 'want side', cpu.fromArray(want), have, 1e6), /element 2:/);
  }
  await assertClose(cpu, 'equal infinities', cpu.fromArray(Float32Array.of(1, Infinity, 3)), Float32Array.of(1, Infinity, 3), 0);
});

test('describeWebGPU reports an adapter or says how to get one', async () => {
  const d = await describeWebGPU();
  assert.equal(d.name, 'webgpu');
  if (d.available) {
    assert.ok(d.summary && d.details, 'summary and details');
    for (const k of ['backend', 'vendor', 'maxStorageBufferBindingSize', 'maxBufferSize', 'features', 'isFallbackAdapter']) assert.ok(k in d.details!, k);
  } else {
    assert.match(d.fix ?? '', /scripts\/setup\.sh/);
    assert.match(d.fix ?? '', /XDG_RUNTIME_DIR/);
  }
});

gpuTest('readSync throws and points to tensor.data()', async (gpu) => {
  const s = gpu.fromArray(new Float32Array([1, 2]));
  assert.throws(() => gpu.readSync(s), /await tensor\.data\(\)/);
  gpu.free(s);
});

gpuTest('1,000 small op sequences keep liveStorages flat; freed buffers are reused', async (gpu) => {
  const before = gpu.memory();
  const x = gpu.fromArray(ramp(37));
  const w = gpu.fromArray(ramp(37 * 5));
  for (let i = 0; i < 1000; i++) {
    const a = gpu.unary('tanh', x);
    const b = gpu.binary('mul', a, [37], x, [37], [37], 'float32');
    const c = gpu.matmul(b, w, { batch: 1, m: 1, k: 37, n: 5, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 });
    const d = gpu.softmax(c, 1, 5, false);
    const e = gpu.reduce('sum', d, { outer: 1, len: 5, inner: 1 });
    for (const s of [a, b, c, d]) gpu.free(s);
    if (i % 250 === 249) assert.ok(Math.abs((await gpu.read(e))[0]! - 1) < 1e-5, 'softmax sums to 1');
    gpu.free(e);
  }
  await gpu.sync();
  gpu.free(x); gpu.free(w);
  const after = gpu.memory();
  assert.equal(after.liveStorages, before.liveStorages, 'liveStorages back where it started');
  assert.equal(after.liveBytes, before.liveBytes, 'liveBytes back where it started');
  // Five intermediates per iteration, all recycled: the pool stays a handful of buffers.
  assert.ok((after.pooledBytes ?? 0) < 64 * 1024, `pooledBytes ${after.pooledBytes} stays small`);
});

gpuTest('elementwise, cast, fill, random and adamw over the binding limit (chunked windows)', async (_gpu, small) => {
  const n = 5000; // 20 KB: five windows of a 4 KiB binding
  const xs = ramp(n), ys = ramp(n, -2e-3);
  const x = small.fromArray(xs), y = small.fromArray(ys);
  await assertClose(small, 'unary exp', small.unary('exp', x), Float32Array.from(xs, Math.exp), 1e-5);
  await assertClose(small, 'unaryGrad tanh', small.unaryGrad('tanh', x, y), Float32Array.from(xs, (v, i) => ys[i]! * (1 - Math.tanh(v) ** 2)), 1e-5);
  await assertClose(small, 'binary add (full + full)', small.binary('add', x, [n], y, [n], [n], 'float32'), Float32Array.from(xs, (v, i) => v + ys[i]!), 1e-6);
  const row = small.fromArray(ramp(50));
  await assertClose(small, 'binary mul (full x broadcast row)', small.binary('mul', x, [100, 50], row, [1, 50], [100, 50], 'float32'),
    Float32Array.from(xs, (v, i) => v * Math.fround(Math.sin((i % 50) * 0.37) + (i % 50) * 1e-3)), 1e-5);
  await assertClose(small, 'cast', small.cast(x, 'int32'), Int32Array.from(xs, Math.trunc), 0);
  await assertClose(small, 'fill', small.fill(n, 'float32', 2.5), new Float32Array(n).fill(2.5), 0);
  const rc = await cpu.read(cpu.random(n, 'normal', 7, 11));
  await assertClose(small, 'random normal', small.random(n, 'normal', 7, 11), rc, 2e-5);
  const args = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 2 };
  const [pc, gc, mc, vc] = [xs, ys, ys, xs.map(Math.abs)].map((a) => cpu.fromArray(a.slice()));
  const [pg, gg, mg, vg] = [xs, ys, ys, xs.map(Math.abs)].map((a) => small.fromArray(a.slice()));
  cpu.adamwInPlace(pc!, gc!, mc!, vc!, args);
  small.adamwInPlace(pg!, gg!, mg!, vg!, args);
  await assertClose(small, 'adamw param', pg!, (await cpu.read(pc!)) as Float32Array, 1e-5);
  await assertClose(small, 'adamw v', vg!, (await cpu.read(vc!)) as Float32Array, 1e-5);
});

gpuTest('indexSelect from an embedding over the binding limit (window per row range)', async (_gpu, small) => {
  const len = 700, inner = 12; // 33.6 KB table
  const table = ramp(len * inner);
  const ids = Int32Array.from([0, 699, 3, 350, 350, 512, 87, 1, 698]);
  const want = new Float32Array(ids.length * inner);
  ids.forEach((id, j) => want.set(table.subarray(id * inner, (id + 1) * inner), j * inner));
  await assertClose(small, 'indexSelect', small.indexSelect(small.fromArray(table), { outer: 1, len, inner }, small.fromArray(ids)), want, 0);
});

gpuTest('matmul with operands and output over the binding limit (m/n/k blocks, k accumulated)', async (_gpu, small) => {
  const cases: MatmulArgs[] = [
    // lm-head shape: x [m, k] times a tall weight [n, k] transposed
    { batch: 1, m: 5, k: 24, n: 300, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 },
    // its input gradient: long k (vocabulary) on both operands
    { batch: 1, m: 5, k: 300, n: 24, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 },
    // its weight gradient: transA, output over the limit
    { batch: 1, m: 300, k: 5, n: 24, transA: true, transB: false, aBatchStride: 0, bBatchStride: 0 },
    // batched, everything large
    { batch: 2, m: 33, k: 70, n: 41, transA: true, transB: true, aBatchStride: 33 * 70, bBatchStride: 70 * 41 },
  ];
  for (const args of cases) {
    const aData = ramp(args.batch * args.m * args.k, 1e-4), bData = ramp(args.batch * args.k * args.n, -1e-4), bias = ramp(args.n);
    const want = await cpu.read(cpu.matmul(cpu.fromArray(aData), cpu.fromArray(bData), { ...args, bias: cpu.fromArray(bias) }));
    const got = small.matmul(small.fromArray(aData), small.fromArray(bData), { ...args, bias: small.fromArray(bias) });
    await assertClose(small, `matmul ${JSON.stringify(args)}`, got, want, 1e-4);
  }
});

gpuTest('every shaders/*.wgsl compiles with its preludes, and a prelude compiles alone', async (gpu) => {
  const files = readdirSync(new URL('../../../shaders/', import.meta.url)).filter((f) => f.endsWith('.wgsl')).map((f) => f.slice(0, -5));
  assert.ok(files.includes('activation') && files.includes('matmul'), 'found the shaders');
  for (const file of files) {
    const code = shaderSource(file);
    if (file === 'unary' || file === 'matmul') assert.match(code, /fn gelu_tanh_\(/, `${file} gets activation.wgsl`);
    const info = await gpu.rt.device.createShaderModule({ code, label: file }).getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}: ${m.message}`);
    assert.deepEqual(errors, [], `${file}.wgsl`);
  }
});

gpuTest('matmul activation epilogue over the binding limit: applied once, after the K-accumulated sum', async (gpu, small) => {
  const acts = ['gelu_erf', 'gelu_tanh', 'silu', 'relu'] as const;
  const cases: MatmulArgs[] = [
    { batch: 1, m: 5, k: 24, n: 300, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0 },   // n blocks
    { batch: 1, m: 5, k: 300, n: 24, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 },  // k blocks, accumulated
    { batch: 2, m: 33, k: 70, n: 41, transA: true, transB: true, aBatchStride: 33 * 70, bBatchStride: 70 * 41 }, // all
  ];
  const before = small.rt.dispatchesByKernel.get('matmul:matmul') ?? 0;
  for (const base of cases) {
    for (const [j, activation] of acts.entries()) {
      const args = { ...base, activation };
      // Centred data: partial sums change sign across K blocks, so an activation applied to a
      // partial sum (relu above all) would change the result.
      const aData = ramp(args.batch * args.m * args.k, 1e-4), bData = ramp(args.batch * args.k * args.n, -1e-4), bias = ramp(args.n);
      const withBias = j % 2 === 0;
      const up = (be: Backend, d: Float32Array) => be.fromArray(d);
      const run = (be: Backend) => be.matmul(up(be, aData), up(be, bData), withBias ? { ...args, bias: up(be, bias) } : args);
      const want = await cpu.read(run(cpu));
      await assertClose(small, `matmul ${JSON.stringify(args)} bias ${withBias}`, run(small), want, 1e-4);
      await assertClose(gpu, `matmul ${JSON.stringify(args)} bias ${withBias} (one dispatch)`, run(gpu), want, 1e-4);
    }
  }
  assert.ok((small.rt.dispatchesByKernel.get('matmul:matmul') ?? 0) - before > cases.length * acts.length, 'the small backend split the products');
});

gpuTest('a validation error names the op and its shapes, once, and the backend keeps working', async (gpu) => {
  // Too few elements for the declared shape: the binding is smaller than the kernel's view,
  // which WebGPU tolerates (robust access) — so provoke a real error instead: an op on an
  // oversized operand is rejected on the host with the op named.
  const big = (gpu as WebGPUBackend).rt.maxBinding / 4 + 64;
  const x = gpu.zeros(big, 'float32');
  assert.throws(() => gpu.softmax(x, 1, big, false), /softmax\[1,\d+\].*maxStorageBufferBindingSize/);
  gpu.free(x);
  const y = gpu.fromArray(new Float32Array([1, 2, 3]));
  assert.deepEqual([...(await gpu.read(gpu.unary('neg', y)))], [-1, -2, -3]);
});

test('webgpu strided copies: vec4 only for contiguous, 4-aligned, large views', () => {
  // [2, 64, 8, 64] -> [2, 8, 64, 64] (a head split): last dim contiguous, outer strides x4.
  assert.equal(vectorWidth([2, 8, 64, 64], [32768, 64, 512, 1], 0, 0), 4);
  assert.equal(vectorWidth([2, 8, 64, 64], [32768, 64, 512, 1], 2, 0), 1, 'offset not 4-aligned');
  assert.equal(vectorWidth([2, 8, 64, 64], [32768, 64, 512, 1], 0, 6), 1, 'contiguous start not 4-aligned');
  assert.equal(vectorWidth([2, 8, 64, 62], [31744, 62, 496, 1], 0, 0), 1, 'inner dim not divisible by 4');
  assert.equal(vectorWidth([2, 8, 64, 64], [32768, 64, 1, 512], 0, 0), 1, 'inner dim strided');
  assert.equal(vectorWidth([2, 8, 64, 64], [32768, 66, 512, 1], 0, 0), 1, 'outer stride not 4-aligned');
  assert.equal(vectorWidth([8, 64], [64, 1], 0, 0), 1, 'too small to fill the lanes');
});

gpuTest('vec4 strided gathers and scatters match the CPU (permutes, negative outer strides, offsets)', async (gpu) => {
  const n = 2 * 64 * 8 * 64; // x is [2, 64, 8, 64]
  const x = ramp(n);
  const views = [
    { shape: [2, 8, 64, 64], strides: [32768, 64, 512, 1], offset: 0 },            // head split
    { shape: [2, 8, 64, 64], strides: [32768, 64, -512, 1], offset: 63 * 512 },    // flipped outer dim
    { shape: [2, 8, 32, 64], strides: [32768, 64, 1024, 1], offset: 512 },         // step 2 from row 1
  ];
  for (const view of views) {
    assert.equal(vectorWidth(view.shape, view.strides, view.offset, 0), 4, `${JSON.stringify(view)} takes the vec4 path`);
    const xc = cpu.fromArray(x), xg = gpu.fromArray(x);
    await assertClose(gpu, `gather ${JSON.stringify(view)}`, gpu.gatherStrided(xg, view), await cpu.read(cpu.gatherStrided(xc, view)) as Float32Array, 0);
    const m = view.shape.reduce((a, b) => a * b, 1), src = ramp(m, 2e-3);
    cpu.scatterStridedInto(xc, view, cpu.fromArray(src));
    gpu.scatterStridedInto(xg, view, gpu.fromArray(src));
    await assertClose(gpu, `scatter ${JSON.stringify(view)}`, xg, await cpu.read(xc) as Float32Array, 0);
  }
});

gpuTest('reads awaited together (Promise.all) each get their values', async (gpu) => {
  // Several waits overlap: the runtime's wait clock (timestamp queries, one readback buffer)
  // must stand aside for all but one of them instead of mapping its buffer twice.
  const data = [0, 1, 2, 3, 4].map((i) => ramp(3000 + i, 1e-3 * (i + 1)));
  const ys = data.map((d) => gpu.unary('exp', gpu.matmul(gpu.fromArray(d), gpu.fromArray(new Float32Array([1])), {
    batch: 1, m: d.length, k: 1, n: 1, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0,
  })));
  const got = await Promise.all(ys.map((y) => gpu.read(y)));
  got.forEach((g, i) => {
    const want = data[i]!.map(Math.exp);
    assert.equal(g.length, want.length);
    for (let j = 0; j < want.length; j++) assert.ok(Math.abs(g[j]! - want[j]!) <= 1e-5 * (1 + want[j]!), `read ${i}, element ${j}: ${g[j]} vs ${want[j]}`);
  });
});

test('webgpu runtime: a full bind-group cache is dropped and collected, so lavapipe mappings stay bounded', async (t: TestContext) => {
  const be = await createWebGPUBackend().catch((e: unknown) => e as Error);
  if (be instanceof Error) { t.skip(`no WebGPU adapter: ${be.message}`); return; }
  // On lavapipe every live bind group holds a memfd mapping (65,530 per process): without the
  // collection, dropped groups waited for V8's next major GC and a long run crashed.
  const memfdMaps = (): number | null => {
    try { return readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('memfd:')).length; } catch { return null; }
  };
  be.rt.maxBindGroups = 128;
  const xs = Array.from({ length: 48 }, (_, i) => be.fromArray(ramp(16, 1e-3 * (i + 1))));
  const before = memfdMaps();
  let n = 0;
  for (let i = 0; i < xs.length && n < 128 * 12; i++) {
    for (let j = 0; j < xs.length && n < 128 * 12; j++, n++) {
      const y = be.binary('add', xs[i]!, [16], xs[j]!, [16], [16], 'float32');
      const got = await be.read(y);
      assert.ok(Math.abs(got[3]! - (Math.sin(3 * 0.37) * 2 + 3e-3 * (i + j + 2))) < 1e-5, `sum ${i}+${j}`);
      be.free(y);
    }
  }
  assert.ok(be.rt.bindGroupCollections >= 10, `cache dropped and collected ${be.rt.bindGroupCollections} times for ${n} distinct bind groups`);
  const after = memfdMaps();
  if (before !== null && after !== null && after > 0) {
    assert.ok(after - before < 4 * 128 + 256, `memfd mappings grew by ${after - before} for ${n} bind groups (cache of 128)`);
  }
  be.destroy();
});
