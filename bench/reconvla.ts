// The `reconvla` family (`npm run bench -- reconvla`): what a user of this project waits for.
// For the demo and the experiment preset's model (bench/reconvla_model.ts): one training step
// (batch 16 of inputs prepared beforehand, as the peer's: forward with lm + vm loss, backward,
// clipping, one read, AdamW) and one policy call (from two camera images: preprocessing, prefill
// and the greedy answer: grounding, if any, and action tokens), on wasm, WebGPU and the CPU reference, against
// PyTorch on the same shapes (bench/torch_reconvla.py) with OpenBLAS and with Debian's reference
// BLAS, threads named in the peer label.
//
// Before any timing, each backend's first step (loss, lm, vm, gradient norm) and first policy
// logits are checked against the CPU reference from the same weights and batch: a bench case
// never times an unchecked computation.
//
// Timing: the wasm step and the PyTorch+OpenBLAS step are measured in alternating rounds
// (ROUNDS of each, median of medians), so a change of machine load hits both alike; the slow
// cases (WebGPU on lavapipe, CPU reference, reference BLAS) once, in the middle.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Backend, createCpuBackend, createWasmBackend } from '@reconvla/core';
import { savePretrained } from '@reconvla/reconvla';
import { type BenchContext, describeRow, row } from './context.ts';
import { buildModel, peerInputs, policyCall, policyLogits, presetModelJson, type StepValues, trainStep } from './reconvla_model.ts';
import type { ResultRow } from './results.ts';

const BATCH = 16;
const ROUNDS = Number(process.env.BENCH_RECONVLA_ROUNDS ?? 3);
const PRESETS = (process.env.BENCH_RECONVLA_PRESETS ?? 'demo,experiment').split(',');
const REFERENCE_BLAS_DIR = '/usr/lib/x86_64-linux-gnu/blas';

interface TorchResult { name: string; step_ms: number; policy_ms?: number; first_step: number[]; trainable_parameters: number }

function torchPeer(inputs: string, env: Record<string, string>, runs: number, log: (s: string) => void, argv?: string[]): TorchResult | null {
  const python = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  try {
    const out = execFileSync(python, argv ?? [new URL('./torch_reconvla.py', import.meta.url).pathname, inputs],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 900_000, env: { ...process.env, TORCH_PEER_RUNS: String(runs), ...env } });
    return JSON.parse(out.trim().split('\n').at(-1)!) as TorchResult;
  } catch (e) {
    log(`PyTorch peer unavailable: ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };

async function timeRuns(fn: () => Promise<unknown>, warmup: number, runs: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) { const t0 = performance.now(); await fn(); ms.push(performance.now() - t0); }
  return median(ms);
}

function checkStep(name: string, got: StepValues, ref: StepValues): void {
  for (const k of ['loss', 'lm', 'vm', 'norm'] as const) {
    const a = got[k], b = ref[k];
    if (!Number.isFinite(a) || Math.abs(a - b) > 2e-3 * Math.max(1, Math.abs(b))) {
      throw new Error(`reconvla bench: ${name} first step ${k} = ${a}, CPU reference ${b}: not timing an unchecked step`);
    }
  }
}

function checkLogits(name: string, got: Float32Array, ref: Float32Array): void {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!));
  if (!(worst <= 1e-3)) throw new Error(`reconvla bench: ${name} policy logits differ from the CPU reference by ${worst}`);
}

export async function benchReconvla(ctx: BenchContext): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const cpu = createCpuBackend();
  const wasm = createWasmBackend();
  const threads = wasm.rt.threads, relaxed = wasm.rt.opts.relaxedSimd;
  const wasmName = `reconvla-wasm ${threads} thread${threads > 1 ? 's' : ''}${relaxed ? ' relaxed-simd' : ''}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'reconvla-bench-'));
  // PyTorch's own default intra-op threads unless BENCH_TORCH_THREADS says (the label names them).
  const torchThreads = process.env.BENCH_TORCH_THREADS ?? '0';
  for (const preset of PRESETS) {
    const json = presetModelJson(preset);
    const inputs = path.join(dir, `${preset}.json`);
    writeFileSync(inputs, JSON.stringify(peerInputs(json, BATCH, cpu)));
    // The CPU reference's first step and policy logits, from the same weights and batch.
    const refModel = await buildModel(json, cpu, cpu);
    const refLogits = await policyLogits(refModel);
    const refStep = await trainStep(refModel, BATCH)();
    const refIds = await policyCall(refModel)();
    // The same weights for the reviewed PyTorch twin (python/reconvla_twin), when it is there.
    const twinDir = path.join(dir, `${preset}-model`);
    const twinScript = new URL('./torch_reconvla_twin.py', import.meta.url).pathname;
    const twinReady = existsSync(new URL('../python/reconvla_twin/reconvla.py', import.meta.url).pathname);
    if (twinReady) await savePretrained(await buildModel(json, cpu, cpu), twinDir);
    const paramCount = refModel.parameters().filter((p) => p.requiresGrad).reduce((s, p) => s + p.size, 0);
    ctx.log(`reconvla ${preset}: ${paramCount} trainable parameters; CPU reference first step ${JSON.stringify(refStep)}`);
    refModel.dispose();

    const prepared = new Map<string, { step: () => Promise<StepValues>; policy: () => Promise<number[]>; dispose: () => void }>();
    const prepare = async (name: string, be: Backend) => {
      const model = await buildModel(json, be, cpu);
      checkLogits(name, await policyLogits(model), refLogits);
      const step = trainStep(model, BATCH);
      checkStep(name, await step(), refStep);
      const policy = policyCall(model);
      const ids = await policy();
      if (ids.join() !== refIds.join()) ctx.log(`reconvla ${preset} [${name}]: policy ids ${ids} differ from the reference's ${refIds} (after one training step each; logits checked before it)`);
      prepared.set(name, { step, policy, dispose: () => model.dispose() });
    };
    await prepare(wasmName, wasm);
    const torchRuns = 5;
    const oursStep: number[] = [], oursPolicy: number[] = [], peerStep: number[] = [], peerPolicy: number[] = [], twinStep: number[] = [];
    let twin: TorchResult | null = null;
    let openblas: TorchResult | null = null;
    const torchEnv = { TORCH_THREADS: torchThreads };
    for (let round = 0; round < ROUNDS; round++) {
      const t = torchPeer(inputs, torchEnv, torchRuns, ctx.log);
      if (t) { openblas = t; peerStep.push(t.step_ms); peerPolicy.push(t.policy_ms!); }
      const w = prepared.get(wasmName)!;
      oursStep.push(await timeRuns(w.step, 1, 7));
      if (twinReady) {
        const tw = torchPeer(inputs, torchEnv, torchRuns, ctx.log, [twinScript, inputs, twinDir]);
        if (tw) { twin = tw; twinStep.push(tw.step_ms); ctx.log(`round ${round + 1}: ${tw.name} step ${tw.step_ms.toFixed(1)} ms`); }
      }
      oursPolicy.push(await timeRuns(w.policy, 2, 15));
      ctx.log(`round ${round + 1}: wasm step ${oursStep.at(-1)!.toFixed(1)} ms, policy ${oursPolicy.at(-1)!.toFixed(1)} ms; ${t?.name ?? 'no peer'} step ${t?.step_ms.toFixed(1)} ms, policy ${t?.policy_ms?.toFixed(1)} ms`);
    }
    const reference = existsSync(`${REFERENCE_BLAS_DIR}/libblas.so.3`)
      ? torchPeer(inputs, { ...torchEnv, LD_LIBRARY_PATH: [REFERENCE_BLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') }, 3, ctx.log) : null;
    if (!reference) ctx.log('reference BLAS peer not run (install libblas3 for Debian\'s default BLAS)');
    const kase = (what: string) => `${preset} preset ${what}`;
    const stepCase = kase(`training step (batch ${BATCH}, lm + vm, AdamW)`), policyCase = kase('policy call (prefill + the greedy answer: grounding and action tokens)');
    const peers = (ms: 'step_ms' | 'policy_ms') => [openblas && { name: openblas.name, ms: ms === 'step_ms' ? median(peerStep) : median(peerPolicy) }, reference && { name: reference.name, ms: reference[ms] }]
      .filter((p): p is { name: string; ms: number } => !!p);
    const push = (kaseName: string, backend: string, ms: number, perCall: number, peerList: { name: string; ms: number }[], rounds?: { ours: number[]; peer: number[] }) => {
      for (const p of peerList.length ? peerList : [null]) {
        // The wasm rows keep every round's medians (ours and the OpenBLAS peer's): on a loaded
        // machine the spread says more than one ratio.
        const extra = rounds && p === peerList[0] ? { rounds_ms: rounds.ours.map((x) => +x.toFixed(1)), peer_rounds_ms: rounds.peer.map((x) => +x.toFixed(1)) } : {};
        const r = row('reconvla', kaseName, backend, ms, null, p, { samples_per_s: (1000 * perCall) / ms, ...extra });
        ctx.log(describeRow(r)); rows.push(r);
      }
    };
    push(stepCase, wasmName, median(oursStep), BATCH, peers('step_ms'), { ours: oursStep, peer: peerStep });
    if (twin) {
      const r = row('reconvla', stepCase, wasmName, median(oursStep), null, { name: twin.name, ms: median(twinStep) },
        { samples_per_s: (1000 * BATCH) / median(oursStep), rounds_ms: oursStep.map((x) => +x.toFixed(1)), peer_rounds_ms: twinStep.map((x) => +x.toFixed(1)) });
      ctx.log(describeRow(r)); rows.push(r);
    }
    push(policyCase, wasmName, median(oursPolicy), 1, peers('policy_ms'), { ours: oursPolicy, peer: peerPolicy });
    prepared.get(wasmName)!.dispose();
    for (const [name, be, runs] of [['reconvla-webgpu', ctx.be, 3], ['reconvla-cpu', cpu, 2]] as [string, Backend, number][]) {
      if (process.env.BENCH_RECONVLA_WASM_ONLY) break;
      await prepare(name, be);
      const p = prepared.get(name)!;
      push(stepCase, name, await timeRuns(p.step, 1, runs), BATCH, peers('step_ms'));
      push(policyCase, name, await timeRuns(p.policy, 1, runs), 1, peers('policy_ms'));
      p.dispose();
    }
    if (openblas) ctx.log(`PyTorch first step ${JSON.stringify(openblas.first_step)}, ${openblas.trainable_parameters} trainable parameters (its own init; shapes only)`);
  }
  wasm.close();
  return rows;
}
