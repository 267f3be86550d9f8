// Relaxed SIMD (f32x4.relaxed_madd) is on by default wherever the engine has it: natively on
// Node >= 22, and on Node 20 after V8's --experimental-wasm-relaxed-simd is enabled and a probe
// module validates and computes a*b+c. Fused multiply-adds round once instead of twice, so
// results may differ from plain SIMD by float rounding, and no more: a few AdamW steps of a small
// MLP give the same losses (relative 1e-5) and parameters (1e-4) with and without it, and both
// match the CPU reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCpuBackend } from '../src/backends/cpu/index.ts';
import { createWasmBackend, describeWasm } from '../src/backends/wasm/index.ts';
import { relaxedSimdSupport } from '../src/backends/wasm/runtime.ts';
import { setBackend, tidy } from '../src/engine.ts';
import * as F from '../src/ops/index.ts';
import * as nn from '../src/nn/index.ts';
import * as optim from '../src/optim/index.ts';
import type { Backend } from '../src/backend.ts';
import { isClose } from '../../../test/helpers/close.ts';

const major = Number(process.versions.node.split('.')[0]);

test('relaxed SIMD: probed once, on by default where supported, and doctor says which', (t) => {
  const support = relaxedSimdSupport();
  if (major >= 22) assert.equal(support, 'native');
  if (support === 'unsupported') { t.skip('this engine has no relaxed SIMD'); return; }
  const env = process.env.RECONVLA_WASM_RELAXED_SIMD;
  const b = createWasmBackend({ threads: 1 });
  try {
    if (env === undefined || env === '') assert.equal(b.rt.opts.relaxedSimd, true);
    assert.equal(createWasmBackend({ threads: 1, relaxedSimd: false }).rt.opts.relaxedSimd, false);
  } finally { b.close(); }
  assert.match(describeWasm().details.relaxedSimd!, support === 'native' ? /in use.*native/ : /in use.*probe module/);
});

/** Losses and final parameters of 8 AdamW steps of a 64-96-32 MLP (GELU) on a fixed batch. */
async function train(be: Backend): Promise<{ losses: number[]; params: Float32Array[] }> {
  setBackend(be);
  const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 0.7));
  const l1 = new nn.Linear(64, 96), l2 = new nn.Linear(96, 32);
  for (const [i, p] of [l1.weight, l1.bias!, l2.weight, l2.bias!].entries()) p.assign(F.tensor(rnd(p.size, i + 1).map((v) => v * 0.2), p.shape));
  const params = [...l1.parameters(), ...l2.parameters()];
  const opt = new optim.AdamW(params, { lr: 1e-2 });
  const x = F.tensor(rnd(48 * 64, 7), [48, 64]), y = F.tensor(rnd(48 * 32, 8), [48, 32]);
  const losses: number[] = [];
  for (let s = 0; s < 8; s++) {
    const loss = tidy(() => {
      const l = F.mseLoss(l2.forward(l1.forward(x, 'gelu_tanh')), y);
      l.backward(); opt.step(); opt.zeroGrad();
      return l.detach();
    });
    losses.push(await loss.item());
    loss.dispose();
  }
  return { losses, params: await Promise.all(params.map(async (p) => (await p.data()) as Float32Array)) };
}

test('relaxed SIMD changes a training run by float rounding only (vs plain SIMD and the CPU reference)', async (t) => {
  if (relaxedSimdSupport() === 'unsupported') { t.skip('this engine has no relaxed SIMD'); return; }
  const relaxed = createWasmBackend({ threads: 2, relaxedSimd: true }), plain = createWasmBackend({ threads: 2, relaxedSimd: false });
  try {
    const [r, p, c] = [await train(relaxed), await train(plain), await train(createCpuBackend())];
    for (const [name, other] of [['plain SIMD', p], ['CPU reference', c]] as const) {
      r.losses.forEach((l, i) => assert.ok(Number.isFinite(l) && isClose(l, other.losses[i]!, 0, 1e-5), `step ${i}: relaxed loss ${l} vs ${name} ${other.losses[i]}`));
      r.params.forEach((w, k) => w.forEach((v, i) => assert.ok(isClose(v, other.params[k]![i]!, 1e-5, 1e-4), `param ${k}[${i}]: relaxed ${v} vs ${name} ${other.params[k]![i]}`)));
    }
    assert.ok(r.losses[7]! < r.losses[0]!, `the loss falls (${r.losses[0]} -> ${r.losses[7]})`);
  } finally { relaxed.close(); plain.close(); }
});
