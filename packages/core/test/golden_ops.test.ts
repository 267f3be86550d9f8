// Every case of every ops fixture in the golden folder, forward and backward, on every backend
// present: L = sum(y * gy), so dL/dinput is the vector-Jacobian product PyTorch stored.
// Op parameters come from each case's metadata (and, where the generator only wrote them in
// the expression, are parsed from it, failing loudly if the expression has another form).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as F from '../src/ops/index.ts';
import { tidy, type Backend, type Tensor } from '../src/index.ts';
import { compareArrays, findFixtures, Fixture } from '../../../test/helpers/golden.ts';
import { testBackends } from '../../../test/helpers/backends.ts';

interface CaseMeta {
  expr: string;
  inputs: Record<string, { differentiable: boolean; dtype: string; shape: number[] }>;
  outputs: Record<string, number[]>;
  [param: string]: unknown;
}

type Inputs = Record<string, Tensor>;
type Runner = (x: Inputs, c: CaseMeta) => Tensor | { y: Tensor; extra: Record<string, Tensor> };

function match(expr: string, re: RegExp, what: string): RegExpMatchArray {
  const m = expr.match(re);
  if (!m) throw new Error(`cannot read ${what} from expression "${expr}"`);
  return m;
}

/** Applies a Python subscript like "x[1:3, :, 2:5]" or "x[:, 1::2, -3:]". */
function pythonSlice(x: Tensor, expr: string): Tensor {
  const inside = match(expr, /x\[([^\]]+)\]/, 'a slice')[1]!;
  let y = x;
  inside.split(',').map((s) => s.trim()).forEach((part, dim) => {
    const [a, b, c] = part.split(':');
    const start = a ? Number(a) : 0, end = b ? Number(b) : undefined, step = c ? Number(c) : 1;
    if (part !== ':') y = F.slice(y, dim, start, end, step);
  });
  return y;
}

function num(c: CaseMeta, key: string): number {
  const v = c[key];
  if (typeof v !== 'number') throw new Error(`case metadata has no number "${key}"`);
  return v;
}

const runners: Record<string, Runner> = {
  matmul_batched: (x) => F.matmul(x.a!, x.b!),
  matmul_broadcast: (x) => F.matmul(x.a!, x.b!),
  linear: (x) => F.linear(x.x!, x.w!, x.b),
  add_broadcast: (x) => F.add(x.a!, x.b!),
  mul_broadcast: (x) => F.mul(x.a!, x.b!),
  div_broadcast: (x) => F.div(x.a!, x.b!),
  exp: (x) => F.exp(x.x!),
  log: (x) => F.log(x.x!),
  tanh: (x) => F.tanh(x.x!),
  sigmoid: (x) => F.sigmoid(x.x!),
  silu: (x) => F.silu(x.x!),
  gelu_erf: (x) => F.gelu(x.x!, 'none'),
  gelu_tanh: (x) => F.gelu(x.x!, 'tanh'),
  softmax: (x, c) => F.softmax(x.x!, Number(match(c.expr, /dim=(-?\d+)/, 'dim')[1])),
  log_softmax: (x, c) => F.logSoftmax(x.x!, Number(match(c.expr, /dim=(-?\d+)/, 'dim')[1])),
  layer_norm: (x, c) => F.layerNorm(x.x!, [x.w!.shape[0]!], x.w, x.b, num(c, 'eps')),
  rms_norm: (x, c) => F.rmsNorm(x.x!, x.w, num(c, 'eps')),
  sum_dim: (x, c) => F.sum(x.x!, num(c, 'dim')),
  mean_dim: (x, c) => F.mean(x.x!, num(c, 'dim')),
  max_dim: (x, c) => ({ y: F.max(x.x!, num(c, 'dim')), extra: { indices: F.argmax(x.x!, num(c, 'dim')) } }),
  sum_all: (x) => F.sum(x.x!),
  transpose: (x, c) => { const [a, b] = c.dims as [number, number]; return F.transpose(x.x!, a, b); },
  permute: (x, c) => F.permute(x.x!, c.order as number[]),
  reshape: (x, c) => F.reshape(x.x!, c.shape as number[]),
  concat: (x, c) => F.concat([x.a!, x.b!], num(c, 'dim')),
  slice: (x, c) => pythonSlice(x.x!, c.expr),
  slice_step: (x, c) => pythonSlice(x.x!, c.expr),
  embedding: (x) => F.embedding(x.ids!, x.weight!),
  cross_entropy: (x, c) => F.crossEntropy(x.logits!, x.target!, { ignoreIndex: num(c, 'ignore_index'), reduction: c.reduction as 'mean' }),
  sdpa_causal: (x, c) => F.scaledDotProductAttention(x.q!, x.k!, x.v!, { causal: true, scale: num(c, 'scale') }),
  sdpa_mask: (x, c) => F.scaledDotProductAttention(x.q!, x.k!, x.v!, { mask: x.mask!, scale: num(c, 'scale') }),
  rope: (x, c) => {
    const { cos, sin } = F.rotaryCosSin(x.position_ids!, x.x!.shape[3]!, num(c, 'theta'));
    return { y: F.applyRotary(x.x!, cos, sin), extra: { cos, sin } };
  },
  conv2d_s1p1: (x, c) => {
    const m = match(c.expr, /stride (\d+), padding (\d+)/, 'stride and padding');
    return F.conv2d(x.x!, x.w!, x.b, { stride: Number(m[1]), padding: Number(m[2]) });
  },
  conv2d_s2_asym: (x, c) => {
    const p = match(c.expr, /left (\d+), right (\d+), top (\d+), bottom (\d+)/, 'asymmetric padding');
    const s = match(c.expr, /stride (\d+), padding 0/, 'stride');
    return F.conv2d(x.x!, x.w!, x.b, { stride: Number(s[1]), padding: [Number(p[3]), Number(p[4]), Number(p[1]), Number(p[2])] });
  },
  group_norm: (x, c) => F.groupNorm(x.x!, num(c, 'num_groups'), x.w, x.b, num(c, 'eps')),
  upsample_nearest2x: (x, c) => { match(c.expr, /scale_factor=2, mode='nearest'/, 'nearest 2x'); return F.upsampleNearest2x(x.x!); },
  avg_pool2d: (x, c) => { const k = Number(match(c.expr, /kernel (\d+), stride \1/, 'kernel = stride')[1]); return F.avgPool2d(x.x!, k); },
  mse_loss: (x) => F.mseLoss(x.a!, x.b!),
};

const files = findFixtures(/^ops/);
const backends = await testBackends();

test('golden ops fixtures are present', (t) => {
  if (files.length === 0) t.skip('no ops*.safetensors in the golden folder (RECONVLA_GOLDEN_DIR)');
});

for (const file of files) {
  const fx = new Fixture(file);
  const cases = fx.meta<Record<string, CaseMeta>>('cases');
  for (const tb of backends) {
    test(`${fx.name} on ${tb.name}`, { skip: tb.skip ?? false }, async (t) => {
      const backend = tb.backend as Backend;
      for (const [name, c] of Object.entries(cases)) {
        await t.test(name, async () => {
          const run = runners[name];
          assert.ok(run, `no runner for ops case "${name}": add one to golden_ops.test.ts`);
          const before = backend.memory().liveStorages;
          // Forward and backward inside tidy; the tensors to compare are returned (kept), read
          // asynchronously (WebGPU has no synchronous reads), then disposed.
          const results = tidy(() => {
            const inputs: Inputs = {};
            for (const [arg, spec] of Object.entries(c.inputs)) {
              inputs[arg] = fx.tensor(`input.${name}.${arg}`, backend, spec.differentiable);
              assert.deepEqual(inputs[arg]!.shape, spec.shape, `${name}.${arg} shape`);
            }
            const r = run(inputs, c);
            const { y, extra } = 'y' in r && 'extra' in r ? r : { y: r as Tensor, extra: {} as Record<string, Tensor> };
            const out = new Map<string, Tensor>([[`output.${name}.y`, y]]);
            for (const [k, v] of Object.entries(extra)) out.set(`output.${name}.${k}`, v);
            F.sum(F.mul(y, fx.tensor(`input.${name}.gy`, backend))).backward();
            for (const [arg, spec] of Object.entries(c.inputs)) {
              if (!spec.differentiable) continue;
              const g = inputs[arg]!.grad;
              assert.ok(g, `${name}: no gradient reached ${arg}`);
              out.set(`grad.input.${name}.${arg}`, g);
            }
            return out;
          });
          const failures: string[] = [];
          for (const [ref, got] of results) {
            assert.deepEqual(got.shape, fx.shape(ref), `${ref}: shape`);
            const data = await got.data();
            if (got.dtype === 'int32') assert.deepEqual(Array.from(data), Array.from(fx.file.readInt32(ref)), ref);
            else {
              const err = compareArrays(data, fx.f32(ref), { rel: 1e-5, abs: 1e-7 }, `${tb.name} ${ref}`);
              if (err) failures.push(err);
            }
            got.dispose();
          }
          assert.deepEqual(failures, []);
          assert.equal(backend.memory().liveStorages, before, `${name}: storages leaked`);
        });
      }
    });
  }
}
