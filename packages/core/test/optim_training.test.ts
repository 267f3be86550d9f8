// A tiny MLP trained for 1,000 steps (AdamW, gradient clipping, warmup+cosine schedule, one
// tidy() per step): the loss falls and the number of live storages stays exactly constant after
// the first step (the optimizer state is created then; nothing may accumulate afterwards).
// Its own file, so its own process: no finalizer of another test's tensors can move the count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../src/ops/index.ts';
import { createCpuBackend, getBackend, keep, nn, noGrad, optim, setBackend, tidy, type Tensor } from '../src/index.ts';
import { Generator } from '../src/ops/random.ts';

test('1,000 training steps of Linear-SiLU-Linear: constant live storages after step 1, falling loss', () => {
  setBackend(createCpuBackend());
  const g = new Generator(0);
  const model = new nn.Sequential(new nn.Linear(4, 32, { generator: g }), new nn.SiLU(), new nn.Linear(32, 1, { generator: g }));
  const x = keep(F.randn([64, 4], { generator: g }));
  // A smooth target the MLP can fit: y = sin(x0) + x1 * x2 - 0.5 x3.
  const y = keep(noGrad(() => tidy(() => {
    const [x0, x1, x2, x3] = F.split(x, 1, 1) as [Tensor, Tensor, Tensor, Tensor];
    return F.sub(F.add(F.sin(x0), F.mul(x1, x2)), F.mul(x3, 0.5));
  })));
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-2 });
  const sched = new optim.LRScheduler(opt, optim.warmupCosine({ warmupSteps: 50, totalSteps: 1000, minLr: 1e-4 }));

  const live = new Map<number, number>();
  const losses = new Map<number, number>();
  for (let step = 1; step <= 1000; step++) {
    const loss = tidy(() => {
      const l = F.mseLoss(model.forward(x), y);
      l.backward();
      optim.clipGradNorm(model.parameters(), 1.0);
      opt.step();
      opt.zeroGrad();
      sched.step();
      return l.detach();
    });
    if (step === 1 || step === 1000) losses.set(step, loss.itemSync());
    loss.dispose();
    if (step === 1 || step === 10 || step === 1000) live.set(step, getBackend().memory().liveStorages);
  }
  assert.equal(live.get(1000), live.get(10), `live storages grew from ${live.get(10)} at step 10 to ${live.get(1000)} at step 1000`);
  assert.equal(live.get(10), live.get(1), 'live storages changed after the first step');
  // model (4 params) + optimizer (2 per param) + x, y: nothing else survives a step.
  assert.equal(live.get(1000), 4 + 8 + 2);
  const first = losses.get(1)!, last = losses.get(1000)!;
  assert.ok(last < first / 10, `loss fell only from ${first} to ${last}`);
});
