// A plain Node script outside the workspace, using the packages as installed from their npm
// tarballs (no tsx, no TypeScript): it trains a tiny MLP on @reconvla/core and loads a saved
// ReconVLA model folder with @reconvla/reconvla, then predicts one action chunk; and it runs one
// matmul on the wasm and WebGPU backends (WebGPU's kernels ship as WGSL inside the package).
//   node consumer.mjs MODEL_DIR      prints one JSON line (test/package_install.test.ts reads it)
import { createBackend, createCpuBackend, setBackend, manualSeed, mseLoss, nn, optim, rand, tidy, noGrad, keep, F } from '@reconvla/core';
import { loadPretrainedWithReport, predictActions, Processor } from '@reconvla/reconvla';

const modelDir = process.argv[2];
if (!modelDir) throw new Error('usage: node consumer.mjs MODEL_DIR');
const backend = createCpuBackend();
setBackend(backend);
manualSeed(0);

// 1. A 2-layer MLP fits y = sin(3 x0) cos(2 x1) with AdamW.
class MLP extends nn.Module {
  constructor() {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(2, 64));
    this.fc2 = this.registerModule('fc2', new nn.Linear(64, 1));
  }
  forward(x) { return this.fc2.forward(this.fc1.forward(x).silu()); }
}
const x = keep(rand([256, 2]).mul(2).sub(1));
const y = keep(noGrad(() => x.slice(1, 0, 1).mul(3).sin().mul(x.slice(1, 1, 2).mul(2).cos())));
const mlp = new MLP();
const opt = new optim.AdamW(mlp.parameters(), { lr: 1e-2 });
const losses = [];
for (let step = 0; step < 400; step++) {
  const loss = tidy(() => {
    const l = mseLoss(mlp.forward(x), y);
    l.backward();
    opt.step();
    opt.zeroGrad();
    return l.detach();
  });
  if (step === 0 || step === 399) losses.push(await loss.item());
  loss.dispose();
}

// 2. A saved ReconVLA folder, loaded with its report, predicting from one observation.
const log = [];
const { model, report } = loadPretrainedWithReport(modelDir, { backend, log: (line) => log.push(line) });
const processor = new Processor(model.config);
const image = { width: 32, height: 32, data: Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * 37) % 256) };
const state = new Float32Array(model.config.prompt.stateDim).fill(0.5);
const prediction = await predictActions(model, processor, { images: [image], instruction: 'open the drawer', state });

// 3. The other backends, against the CPU: wasm always, WebGPU where there is an adapter.
const a = rand([33, 65]), b = rand([65, 17]);
const want = F.matmul(a, b).dataSync();
const backends = {};
for (const name of ['wasm', 'webgpu']) {
  try {
    const other = await createBackend(name);
    const got = await F.matmul(F.tensor(a.dataSync(), a.shape, { backend: other }), F.tensor(b.dataSync(), b.shape, { backend: other })).data();
    backends[name] = { maxAbsDiff: Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]))) };
    other.destroy?.();
  } catch (e) {
    backends[name] = { error: e.message };
  }
}

console.log(JSON.stringify({
  core: import.meta.resolve('@reconvla/core'),
  reconvla: import.meta.resolve('@reconvla/reconvla'),
  mlpLoss: losses, loaded: report.loaded, log, ids: prediction.ids, actions: Array.from(prediction.actions), backends,
}));
