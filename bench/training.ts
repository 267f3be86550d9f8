// Training-step family: a full step (forward, backward, AdamW, loss read back) of an MLP and of
// the small GPT (bench/small_gpt.ts) on our wasm, WebGPU and CPU reference backends.
// The peer column is PyTorch CPU on the same shapes (bench/torch_peer.py) when python3-torch is
// installed; which BLAS it linked is part of the peer name.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Backend } from '../packages/core/src/backend.ts';
import { createCpuBackend, createWasmBackend, F, manualSeed, mseLoss, nn, optim, randint, randn, setBackend, tidy, type Tensor } from '../packages/core/src/index.ts';
import { type BenchContext, describeRow, row } from './context.ts';
import type { ResultRow } from './results.ts';
import { SMALL_GPT, SmallGpt, gptStepFlops } from './small_gpt.ts';
import { time } from './timing.ts';
import { variantBackend, variantName } from './variant.ts';

const MLP = { batch: 256, dims: [512, 1024, 1024, 512] };
const GPT_BATCH = 8;

type Step = () => Promise<number>;

function mlpStep(): Step {
  const layers = MLP.dims.slice(1).map((d, i) => new nn.Linear(MLP.dims[i]!, d));
  const params = layers.flatMap((l) => l.parameters());
  const opt = new optim.AdamW(params, { lr: 1e-3 });
  const x = randn([MLP.batch, MLP.dims[0]!]), y = randn([MLP.batch, MLP.dims.at(-1)!]);
  return async () => {
    const loss = tidy(() => {
      let h: Tensor = x;
      layers.forEach((l, i) => { h = l.forward(h); if (i < layers.length - 1) h = F.gelu(h); });
      const l = mseLoss(h, y);
      l.backward(); opt.step(); opt.zeroGrad();
      return l.detach();
    });
    const v = await loss.item();
    loss.dispose();
    return v;
  };
}

function gptStep(): Step {
  const model = new SmallGpt(SMALL_GPT);
  const opt = new optim.AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
  const ids = randint(0, SMALL_GPT.vocab, [GPT_BATCH, SMALL_GPT.seq]), targets = randint(0, SMALL_GPT.vocab, [GPT_BATCH, SMALL_GPT.seq]);
  return async () => {
    const loss = tidy(() => {
      const l = model.loss(ids, targets);
      l.backward(); opt.step(); opt.zeroGrad();
      return l.detach();
    });
    const v = await loss.item();
    loss.dispose();
    return v;
  };
}

const mlpFlops = 6 * MLP.batch * MLP.dims.slice(1).reduce((s, d, i) => s + d * MLP.dims[i]!, 0);

export interface TorchResult { name: string; mlp_ms: number; gpt_ms: number; matmul1024_ms?: number }

/** Rounds of the small-GPT step alternating with PyTorch+OpenBLAS's (medians of each round), so
 * a change of machine load hits both alike: the row the 1.5x target is read from. */
const GPT_ROUNDS = Number(process.env.BENCH_GPT_ROUNDS ?? 3);

// Debian's reference BLAS: with OpenBLAS installed (update-alternatives points libblas.so.3 at
// it), putting this directory first on LD_LIBRARY_PATH gives torch the default BLAS again.
const REFERENCE_BLAS_DIR = '/usr/lib/x86_64-linux-gnu/blas';

/** Runs bench/torch_peer.py (extra environment: `env`); null when python3 or torch is missing. */
export function torchPeer(log: (s: string) => void, env: Record<string, string> = {}): TorchResult | null {
  try {
    // Debian's python3 (the one python3-torch installs into), unless PYTHON says otherwise.
    const python = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
    const out = execFileSync(python, [new URL('./torch_peer.py', import.meta.url).pathname],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000, env: { ...process.env, ...env } });
    return JSON.parse(out.trim().split('\n').at(-1)!) as TorchResult;
  } catch (e) {
    log(`PyTorch peer unavailable: ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}

export async function benchTraining(ctx: BenchContext): Promise<ResultRow[]> {
  if (ctx.variant) return variantTraining(ctx);
  const rows: ResultRow[] = [];
  const torch = torchPeer(ctx.log);
  if (torch) ctx.log(`PyTorch: ${torch.name}: MLP ${torch.mlp_ms.toFixed(1)} ms, small GPT ${torch.gpt_ms.toFixed(1)} ms`);
  const peerOf = (ms: number | undefined) => (torch && ms !== undefined ? { name: torch.name, ms } : null);
  // The issue compares the WebGPU step with PyTorch on Debian's default (reference) BLAS and
  // reports the ratio to OpenBLAS: with OpenBLAS installed, time torch on both.
  const reference = torch?.name.includes('openblas') && existsSync(`${REFERENCE_BLAS_DIR}/libblas.so.3`)
    ? torchPeer(ctx.log, { LD_LIBRARY_PATH: [REFERENCE_BLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') }) : null;
  if (reference) ctx.log(`PyTorch: ${reference.name}: MLP ${reference.mlp_ms.toFixed(1)} ms, small GPT ${reference.gpt_ms.toFixed(1)} ms`);
  // The wasm backend as created by default (relaxed SIMD wherever the engine has it, see
  // createWasmBackend) and, for comparison, with plain SIMD (mul+add).
  const wasm = createWasmBackend();
  const backends: [string, Backend][] = [[wasm.rt.opts.relaxedSimd ? 'reconvla-wasm relaxed-simd (default)' : 'reconvla-wasm', wasm]];
  if (wasm.rt.opts.relaxedSimd) backends.push(['reconvla-wasm plain-simd', createWasmBackend({ relaxedSimd: false })]);
  const cpu = createCpuBackend();
  backends.push(['reconvla-webgpu', ctx.be], ['reconvla-cpu', cpu]);
  const cases: [string, () => Step, number, number][] = [
    [`MLP ${MLP.dims.join('-')} batch ${MLP.batch} AdamW step`, mlpStep, mlpFlops, torch?.mlp_ms ?? NaN],
    [`small GPT L4 d256 H4 T128 B${GPT_BATCH} MLP1024 V512 AdamW step`, gptStep, gptStepFlops(SMALL_GPT, GPT_BATCH), torch?.gpt_ms ?? NaN],
  ];
  // The CPU reference's first-step losses (same seed, same init): every backend's first step is
  // checked against them before it is timed.
  const refLoss = new Map<string, number>();
  setBackend(cpu);
  manualSeed(0);
  for (const [kase, make] of cases) refLoss.set(kase, await make()());
  for (const [name, be] of backends) {
    setBackend(be);
    manualSeed(0);
    const slow = name === 'reconvla-cpu';
    for (const [kase, make, flop, torchMs] of cases) {
      const step = make();
      const first = await step(), want = refLoss.get(kase)!;
      if (!(Math.abs(first - want) <= 1e-4 * Math.max(1, Math.abs(want)))) throw new Error(`training bench: ${kase} [${name}] first loss ${first}, CPU reference ${want}`);
      const r = await time(async () => { await step(); }, { warmup: 1, runs: slow ? 2 : 5, maxMs: 60_000 });
      const res = row('training', kase, name, r.medianMs, flop, peerOf(Number.isNaN(torchMs) ? undefined : torchMs), { main_thread_cpu_percent: name === 'reconvla-webgpu' ? r.mainThreadCpuPercent : null });
      ctx.log(describeRow(res)); rows.push(res);
      if (be === wasm && kase.startsWith('small GPT') && torch && GPT_ROUNDS > 0) {
        const ours: number[] = [], peer: number[] = [];
        for (let i = 0; i < GPT_ROUNDS; i++) {
          const t = torchPeer(ctx.log, { TORCH_PEER_CASES: 'gpt' });
          if (!t) break;
          peer.push(t.gpt_ms);
          ours.push((await time(async () => { await step(); }, { warmup: 1, runs: 5, maxMs: 60_000 })).medianMs);
          ctx.log(`small GPT round ${i + 1}: ${name} ${ours.at(-1)!.toFixed(1)} ms, ${t.name} ${t.gpt_ms.toFixed(1)} ms`);
        }
        if (ours.length) {
          const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
          const alt = row('training', `${kase} (${ours.length} alternating rounds)`, name, med(ours), flop, { name: torch.name, ms: med(peer) },
            { rounds_ms: ours.map((x) => +x.toFixed(1)), peer_rounds_ms: peer.map((x) => +x.toFixed(1)) });
          ctx.log(describeRow(alt)); rows.push(alt);
        }
      }
      if (reference && name === 'reconvla-webgpu') {
        const refMs = kase.startsWith('MLP') ? reference.mlp_ms : reference.gpt_ms;
        const again = row('training', kase, name, r.medianMs, flop, { name: reference.name, ms: refMs }, { main_thread_cpu_percent: r.mainThreadCpuPercent });
        ctx.log(describeRow(again)); rows.push(again);
      }
    }
  }
  return rows;
}

/** `--variant`: the WebGPU steps only, current backend and variant backend one after the other. */
async function variantTraining(ctx: BenchContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const vbe = await variantBackend(ctx.variant!, ctx.be);
  const cases: [string, () => Step, number][] = [
    [`MLP ${MLP.dims.join('-')} batch ${MLP.batch} AdamW step`, mlpStep, mlpFlops],
    [`small GPT L4 d256 H4 T128 B${GPT_BATCH} MLP1024 V512 AdamW step`, gptStep, gptStepFlops(SMALL_GPT, GPT_BATCH)],
  ];
  for (const [kase, make, flop] of cases) {
    const ms: number[] = [];
    for (const be of [ctx.be, vbe]) {
      setBackend(be);
      manualSeed(0);
      const step = make();
      ms.push((await time(async () => { await step(); }, { warmup: 1, runs: 5, maxMs: 60_000 })).medianMs);
    }
    const res = row('training', kase, `variant ${variantName(ctx.variant!)}`, ms[1]!, flop, { name: 'current', ms: ms[0]! });
    ctx.log(describeRow(res)); rows.push(res);
  }
  vbe.destroy();
  return rows;
}
