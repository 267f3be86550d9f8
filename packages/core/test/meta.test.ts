// The meta backend: creation allocates nothing (a 40 GB tensor costs nothing), layout-only views
// work, every kernel and read throws a clear error, nn layers build on it, and storages are
// counted and freed like on any backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCpuBackend, F, Generator, nn, tidy, type Tensor } from '../src/index.ts';
import { createMetaBackend, isMetaBackend, MetaStorage, MetaTensorError } from '../src/backends/meta/index.ts';

const meta = createMetaBackend();

test('creation: zeros, full, random, fromArray record only dtype and size', () => {
  tidy(() => {
    const huge = F.zeros([100_000, 100_000], { backend: meta }); // 40 GB in float32
    assert.deepEqual(huge.shape, [100_000, 100_000]);
    assert.ok(huge.storage instanceof MetaStorage && huge.storage.size === 1e10);
    assert.equal(F.full([3], 7, { backend: meta, dtype: 'int32' }).dtype, 'int32');
    assert.equal(F.randn([2, 3], { backend: meta }).dtype, 'float32');
    assert.equal(F.rand([5], { backend: meta }).size, 5);
    const ids = F.tensor(Int32Array.from([1, 2, 3]), [3], { backend: meta });
    assert.equal(ids.dtype, 'int32');
    assert.equal(F.arange(0, 10, 1, { backend: meta }).shape[0], 10);
    // Views that share storage call no kernel.
    assert.deepEqual(huge.reshape(10, 1e9).shape, [10, 1e9]);
    assert.deepEqual(huge.unsqueeze(0).shape, [1, 100_000, 100_000]);
    assert.ok(isMetaBackend(huge.backend));
  });
});

test('kernels and reads throw "meta tensors have no data: <op>"', async () => {
  const x = F.zeros([2, 3], { backend: meta }), w = F.zeros([4, 3], { backend: meta });
  const cases: [string, () => unknown][] = [
    ['add', () => F.add(x, 1)],
    ['exp', () => F.exp(x)],
    ['matmul', () => F.linear(x, w)],
    ['softmax', () => F.softmax(x)],
    ['sum', () => F.sum(x)],
    ['layerNorm', () => F.layerNorm(x, [3], null, null, 1e-5)],
    ['gatherStrided', () => F.transpose(x, 0, 1)],
    ['cast to int32', () => F.astype(x, 'int32')],
    ['readSync', () => x.dataSync()],
  ];
  for (const [op, fn] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof MetaTensorError && e.message.startsWith(`meta tensors have no data: ${op}`), op);
  }
  await assert.rejects(x.data(), /meta tensors have no data: read/);
  await assert.rejects(x.to(createCpuBackend()), /meta tensors have no data: read/);
  x.dispose(); w.dispose();
});

test('nn layers build on meta with the same names and shapes, and free cleanly', () => {
  const before = meta.memory();
  const gen = new Generator(0);
  const seq = new nn.Sequential(new nn.Linear(8, 16, { backend: meta, generator: gen }), new nn.GELU(), new nn.Linear(16, 4, { backend: meta, generator: gen, bias: false }));
  const norm = new nn.LayerNorm(16, { backend: meta }), rms = new nn.RMSNorm(16, { backend: meta }), emb = new nn.Embedding(100, 16, { backend: meta });
  const conv = new nn.Conv2d(3, 8, 3, { backend: meta, padding: 1 }), gn = new nn.GroupNorm(2, 8, { backend: meta });
  const shapes = (m: nn.Module): string[] => [...m.stateDict()].map(([k, t]) => `${k}:${t.shape.join('x')}`);
  assert.deepEqual(shapes(seq), ['0.weight:16x8', '0.bias:16', '2.weight:4x16']);
  assert.deepEqual(shapes(conv), ['weight:8x3x3x3', 'bias:8']);
  assert.ok(seq.parameters().every((p: Tensor) => p.requiresGrad && p.backend === meta));
  // In-place re-initialisation that needs no arithmetic works; scaled normal draws need a kernel.
  nn.init.kaimingUniform_((seq.at(0) as nn.Linear).weight);
  nn.init.zeros_(norm.weight!);
  assert.throws(() => nn.init.normal_(emb.weight, 0, 0.02), /meta tensors have no data: mul/);
  // The meta generator consumed the same counters a real build would.
  const real = new Generator(0);
  new nn.Linear(8, 16, { generator: real }).dispose();
  new nn.Linear(16, 4, { generator: real, bias: false }).dispose();
  assert.deepEqual(gen.getState(), real.getState());
  const bytes = meta.memory().liveBytes - before.liveBytes;
  assert.equal(bytes, 4 * (16 * 8 + 16 + 4 * 16 + 16 + 16 + 16 + 100 * 16 + 8 * 27 + 8 + 8 + 8));
  for (const m of [seq, norm, rms, emb, conv, gn]) m.dispose();
  assert.deepEqual(meta.memory(), before);
});
