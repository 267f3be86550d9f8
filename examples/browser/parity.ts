// The page's check that the browser's WebGPU computes what the CPU reference computes: the same
// inputs through a few ops (matmul, softmax, layer norm, conv2d, GELU, attention, a reduction)
// on both backends, and the largest absolute difference of each.
import { F, Generator, tidy, type Backend, type Tensor } from '@reconvla/core';

export interface ParityRow { op: string; shape: number[]; maxAbsDiff: number; tolerance: number; ok: boolean }

type Case = { op: string; shapes: number[][]; run: (xs: Tensor[]) => Tensor; tolerance: number };

const CASES: Case[] = [
  { op: 'matmul', shapes: [[64, 96], [96, 48]], run: ([a, b]) => F.matmul(a!, b!), tolerance: 1e-4 },
  { op: 'softmax', shapes: [[8, 257]], run: ([x]) => F.softmax(x!.mul(4), -1), tolerance: 1e-6 },
  { op: 'layerNorm', shapes: [[16, 80], [80], [80]], run: ([x, w, b]) => F.layerNorm(x!, [80], w, b), tolerance: 1e-5 },
  { op: 'conv2d', shapes: [[2, 3, 17, 17], [8, 3, 3, 3], [8]], run: ([x, w, b]) => F.conv2d(x!, w!, b, { stride: 2, padding: 1 }), tolerance: 1e-5 },
  { op: 'gelu(tanh)', shapes: [[1000]], run: ([x]) => F.gelu(x!.mul(3), 'tanh'), tolerance: 1e-5 },
  { op: 'attention', shapes: [[1, 4, 24, 16], [1, 4, 24, 16], [1, 4, 24, 16]], run: ([q, k, v]) => F.scaledDotProductAttention(q!, k!, v!, { causal: true }), tolerance: 1e-5 },
  { op: 'sum', shapes: [[33, 129]], run: ([x]) => F.sum(x!, 1), tolerance: 1e-4 },
];

export async function checkParity(gpu: Backend, cpu: Backend): Promise<ParityRow[]> {
  const gen = new Generator(7);
  const rows: ParityRow[] = [];
  for (const c of CASES) {
    const inputs = c.shapes.map((s) => F.randn(s, { backend: cpu, generator: gen }));
    const host = inputs.map((t) => Float32Array.from(t.dataSync()));
    const want = tidy(() => c.run(inputs));
    const onGpu = host.map((d, i) => F.tensor(d, c.shapes[i]!, { backend: gpu }));
    const got = tidy(() => c.run(onGpu));
    const [a, b] = [want.dataSync(), await got.data()];
    let maxAbsDiff = a.length === b.length ? 0 : Infinity;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (!(d <= maxAbsDiff)) maxAbsDiff = d; // NaN counts as a difference
    }
    rows.push({ op: c.op, shape: [...want.shape], maxAbsDiff, tolerance: c.tolerance, ok: maxAbsDiff <= c.tolerance });
    for (const t of [...inputs, ...onGpu, want, got]) t.dispose();
  }
  return rows;
}
