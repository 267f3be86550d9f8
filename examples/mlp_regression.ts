// A 2-layer MLP learns a toy regression with AdamW: the smallest end-to-end use of
// @reconvla/core (tensors, autograd, nn, optim, tidy) on the best available backend.
//   npx tsx examples/mlp_regression.ts [--steps 400] [--hidden 64]   (RECONVLA_BACKEND picks the backend)
// It exits non-zero unless the loss falls at least 5x (test/examples.test.ts runs it).
import { parseArgs } from 'node:util';
import { manualSeed, mseLoss, nn, optim, rand, tidy, useBackend, noGrad, keep, type Tensor } from '@reconvla/core';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '400' }, hidden: { type: 'string', default: '64' } } });
const steps = Number(values.steps), hidden = Number(values.hidden);

const backend = await useBackend();
console.log(`backend: ${backend.info().summary}`);
manualSeed(0);

class MLP extends nn.Module {
  fc1 = this.registerModule('fc1', new nn.Linear(2, hidden));
  fc2 = this.registerModule('fc2', new nn.Linear(hidden, 1));
  forward(x: Tensor): Tensor { return this.fc2.forward(this.fc1.forward(x).silu()); }
}

// Target: y = sin(3 x0) * cos(2 x1) + 0.5 x0^2 on [-1, 1]^2.
const target = (x: Tensor): Tensor => noGrad(() => {
  const x0 = x.slice(1, 0, 1), x1 = x.slice(1, 1, 2);
  return x0.mul(3).sin().mul(x1.mul(2).cos()).add(x0.square().mul(0.5));
});
const xTrain = keep(rand([256, 2]).mul(2).sub(1));
const yTrain = keep(target(xTrain));

const model = new MLP();
const opt = new optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 1e-4 });

let first = NaN, last = NaN;
for (let step = 0; step <= steps; step++) {
  const loss = tidy(() => {
    const l = mseLoss(model.forward(xTrain), yTrain);
    l.backward();
    opt.step();
    opt.zeroGrad();
    return l.detach();
  });
  if (step % 50 === 0 || step === steps) {
    last = await loss.item();
    if (step === 0) first = last;
    console.log(`step ${String(step).padStart(4)}  loss ${last.toFixed(5)}`);
  }
  loss.dispose();
}
console.log(`loss fell from ${first.toFixed(5)} to ${last.toFixed(5)} (${(first / last).toFixed(1)}x) on ${backend.name}`);
if (!(last < first / 5)) {
  console.error('the loss did not fall by 5x: training is broken');
  process.exitCode = 1;
}
