// Benchmarks of the wasm backend: matmul (1 and 2 threads, with and without relaxed SIMD),
// attention forward/backward, softmax, layer norm, AdamW and an elementwise add. Prints a table
// and, with --json, one JSON row per case: {family, case, backend: 'wasm', threads, ms, gflops, cpuGflops}.
// Medians over repeated runs; `cpuGflops` divides by the process CPU time instead of wall time,
// which is steadier on a shared machine (other processes steal wall time, not CPU time).
// `--epilogue` runs only the matmul activation-epilogue rows (fused vs matmul then unary).
//   node --import tsx bench/wasm.bench.ts [--json] [--quick] [--epilogue]
import { loadavg } from 'node:os';
import { createWasmBackend, type WasmBackend } from '../packages/core/src/backends/wasm/index.ts';
import { detectRelaxedSimd } from '../packages/core/src/backends/wasm/runtime.ts';
import type { MatmulActivation, MatmulArgs, Storage } from '../packages/core/src/backend.ts';
import { createCpuBackend } from '../packages/core/src/backends/cpu/index.ts';
import { checkClose, checkMatmulSample, geluTanh } from './check.ts';

export interface WasmBenchRow { family: string; case: string; backend: 'wasm'; threads: number; relaxedSimd: boolean; ms: number; gflops: number; cpuGflops: number; loadavg?: number }

const quick = process.argv.includes('--quick');
const REPS = quick ? 5 : 15;

function rand(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = s / 4294967296 - 0.5; }
  return out;
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

const cpuRef = createCpuBackend();

/** Runs fn once and checks each returned storage against the CPU reference's (same order). */
function checked(b: WasmBackend, what: string, fn: () => Storage[], ref: () => Storage[], atol = 1e-5, rtol = 1e-4): void {
  const got = fn(), want = ref();
  got.forEach((s, i) => checkClose(`${what} output ${i} [wasm ${b.rt.threads} threads${b.rt.opts.relaxedSimd ? ', relaxed' : ''}]`, b.readSync(s), cpuRef.readSync(want[i]!), atol, rtol));
  for (const s of got) b.free(s);
}

/** Times fn (which returns storages to free) REPS times after two warm-ups. */
function time(b: WasmBackend, fn: () => Storage[]): { ms: number; cpuMs: number } {
  for (let i = 0; i < 2; i++) for (const s of fn()) b.free(s);
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    const out = fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    for (const s of out) b.free(s);
  }
  return { ms: median(wall), cpuMs: median(cpu) };
}

/** Times fa and fb alternately (A/B in one loop, so load changes hit both alike). */
function timePair(b: WasmBackend, fa: () => Storage[], fb: () => Storage[]): [{ ms: number; cpuMs: number }, { ms: number; cpuMs: number }] {
  const once = (fn: () => Storage[]): [number, number] => {
    const c0 = process.cpuUsage(), t0 = performance.now();
    const out = fn();
    const ms = performance.now() - t0, c = process.cpuUsage(c0);
    for (const s of out) b.free(s);
    return [ms, (c.user + c.system) / 1000];
  };
  for (let i = 0; i < 2; i++) { once(fa); once(fb); }
  const a: [number, number][] = [], bb: [number, number][] = [];
  for (let i = 0; i < REPS; i++) { a.push(once(fa)); bb.push(once(fb)); }
  const stat = (xs: [number, number][]) => ({ ms: median(xs.map((x) => x[0])), cpuMs: median(xs.map((x) => x[1])) });
  return [stat(a), stat(bb)];
}

/** x W^T + b with an activation: fused epilogue vs matmul then the unary op (both native). */
function epilogueRows(b: WasmBackend, row: (b: WasmBackend, family: string, name: string, flops: number, t: { ms: number; cpuMs: number }) => void): void {
  for (const [m, k, n] of quick ? [[1024, 1024, 1024]] : [[1024, 1024, 1024], [1024, 896, 3584]]) {
    const hx = rand(m * k, 9), hw = rand(n * k, 10), hb = rand(n, 11);
    const x = b.fromArray(hx), w = b.fromArray(hw), bias = b.fromArray(hb);
    const args: MatmulArgs = { batch: 1, m, k, n, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0, bias };
    for (const act of ['gelu_tanh', 'relu'] as MatmulActivation[]) {
      { // both ways checked once before timing
        const f = act === 'relu' ? (v: number) => Math.max(0, v) : geluTanh;
        const c = b.matmul(x, w, { ...args, activation: act }), z = b.matmul(x, w, args), u = b.unary(act, z);
        checkMatmulSample(`wasm matmul ${m}x${k}x${n} +bias ${act} fused`, b.readSync(c), hx, hw, { m, k, n, transB: true }, (v, j) => f(v + hb[j]!), 1e-3);
        checkMatmulSample(`wasm matmul ${m}x${k}x${n} +bias then ${act}`, b.readSync(u), hx, hw, { m, k, n, transB: true }, (v, j) => f(v + hb[j]!), 1e-3);
        for (const s of [c, z, u]) b.free(s);
      }
      const [fused, split] = timePair(b, () => [b.matmul(x, w, { ...args, activation: act })],
        () => { const z = b.matmul(x, w, args); return [z, b.unary(act, z)]; });
      row(b, 'matmul+act', `${act} ${m}x${k}x${n} fused`, 2 * m * k * n, fused);
      row(b, 'matmul+act', `${act} ${m}x${k}x${n} mm+unary`, 2 * m * k * n, split);
    }
    b.free(x); b.free(w); b.free(bias);
  }
}

export function runWasmEpilogueBench(): WasmBenchRow[] {
  const rows: WasmBenchRow[] = [];
  for (const threads of [1, 2]) {
    const b = createWasmBackend({ threads });
    epilogueRows(b, (b, family, name, flops, t) => rows.push({ family, case: name, backend: 'wasm', threads: b.rt.threads, relaxedSimd: b.rt.opts.relaxedSimd,
      ms: t.ms, gflops: flops / t.ms / 1e6, cpuGflops: flops / t.cpuMs / 1e6 }));
    b.close();
  }
  return rows;
}

export function runWasmBench(): WasmBenchRow[] {
  const rows: WasmBenchRow[] = [];
  const relaxedModes = detectRelaxedSimd(true) ? [false, true] : [false];
  const row = (b: WasmBackend, family: string, name: string, flops: number, t: { ms: number; cpuMs: number }): void => {
    rows.push({ family, case: name, backend: 'wasm', threads: b.rt.threads, relaxedSimd: b.rt.opts.relaxedSimd, ms: t.ms,
      gflops: flops / t.ms / 1e6, cpuGflops: flops / t.cpuMs / 1e6, loadavg: loadavg()[0]! });
  };
  for (const relaxedSimd of relaxedModes) for (const threads of [1, 2]) {
    const b = createWasmBackend({ threads, relaxedSimd });
    for (const n of quick ? [1024] : [256, 512, 1024]) {
      const hx = rand(n * n, 1), hy = rand(n * n, 2);
      const x = b.fromArray(hx), y = b.fromArray(hy);
      const args = { batch: 1, m: n, k: n, n, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
      { const c = b.matmul(x, y, args); checkMatmulSample(`wasm matmul ${n}^3`, b.readSync(c), hx, hy, { m: n, k: n, n }); b.free(c); }
      row(b, 'matmul', `${n}x${n}x${n}`, 2 * n ** 3, time(b, () => [b.matmul(x, y, args)]));
      b.free(x); b.free(y);
    }
    {
      const B = 1, H = 8, T = 256, D = 64;
      const hq = rand(B * H * T * D, 3), hk = rand(B * H * T * D, 4), hv = rand(B * H * T * D, 5), hgo = rand(B * H * T * D, 6);
      const q = b.fromArray(hq), k = b.fromArray(hk), v = b.fromArray(hv);
      const [rq, rk, rv, rgo] = [hq, hk, hv, hgo].map((h) => cpuRef.fromArray(h)) as [Storage, Storage, Storage, Storage];
      for (const causal of [false, true]) {
        const args = { batch: B, heads: H, kvHeads: H, tq: T, tk: T, dim: D, dimV: D, scale: 1 / 8, causal, maskBatchStride: 0, maskHeadStride: 0 };
        const refFw = cpuRef.attention(rq, rk, rv, args);
        checked(b, `attention fwd d${D}${causal ? ' causal' : ''}`, () => { const r = b.attention(q, k, v, args); return [r.out, r.lse]; }, () => [refFw.out, refFw.lse]);
        checked(b, `attention bwd d${D}${causal ? ' causal' : ''}`, () => {
          const fw = b.attention(q, k, v, args), go = b.fromArray(hgo), g = b.attentionGrad(q, k, v, fw.out, fw.lse, go, args);
          for (const s of [fw.out, fw.lse, go]) b.free(s);
          return [g.gq, g.gk, g.gv];
        }, () => { const g = cpuRef.attentionGrad(rq, rk, rv, refFw.out, refFw.lse, rgo, args); return [g.gq, g.gk, g.gv]; }, 1e-4, 1e-3);
        // QK^T and PV over the visible keys only (T(T+1)/2 pairs when causal): useful flops.
        const flops = 4 * B * H * D * (causal ? T * (T + 1) / 2 : T * T);
        row(b, 'attention', `fwd ${H}h x ${T} x ${D}${causal ? ' causal' : ''}`, flops, time(b, () => { const r = b.attention(q, k, v, args); return [r.out, r.lse]; }));
        const fw = b.attention(q, k, v, args), go = b.fromArray(hgo);
        row(b, 'attention', `bwd ${H}h x ${T} x ${D}${causal ? ' causal' : ''}`, 2.5 * flops,
          time(b, () => { const g = b.attentionGrad(q, k, v, fw.out, fw.lse, go, args); return [g.gq, g.gk, g.gv]; }));
        b.free(fw.out); b.free(fw.lse); b.free(go);
      }
      b.free(q); b.free(k); b.free(v);
    }
    if (!relaxedSimd) epilogueRows(b, row);
    if (!relaxedSimd && threads > 1) {
      // Pool round trip: an empty kernel on every thread (wake the workers, wait for them).
      const noop = b.rt.kernels('noop', (m) => { m.func('noop', {}).body = []; }).noop!.id;
      const lists = Array.from({ length: threads }, () => [{ fn: noop, args: [] }]);
      for (let i = 0; i < 1000; i++) b.rt.run(lists);
      const n = 20000, t0 = performance.now();
      for (let i = 0; i < n; i++) b.rt.run(lists);
      const us = (performance.now() - t0) * 1000 / n;
      rows.push({ family: 'pool', case: 'empty kernel on all threads', backend: 'wasm', threads, relaxedSimd, ms: us / 1000, gflops: 0, cpuGflops: 0 });
    }
    if (!relaxedSimd) {
      const R = 4096, C = 1024, hx = rand(R * C, 7), hy = rand(R * C, 8), x = b.fromArray(hx), y = b.fromArray(hy);
      const rx = cpuRef.fromArray(hx), ry = cpuRef.fromArray(hy);
      checked(b, 'softmax', () => [b.softmax(x, R, C, false)], () => [cpuRef.softmax(rx, R, C, false)], 1e-7, 1e-4);
      checked(b, 'layer_norm', () => { const r = b.normalize(x, R, C, 1e-5, false); return [r.y, r.mean, r.rstd]; }, () => { const r = cpuRef.normalize(rx, R, C, 1e-5, false); return [r.y, r.mean, r.rstd]; }, 1e-5, 1e-4);
      checked(b, 'add', () => [b.binary('add', x, [R, C], y, [R, C], [R, C], 'float32')], () => [cpuRef.binary('add', rx, [R, C], ry, [R, C], [R, C], 'float32')], 0, 0);
      { // AdamW: one update of copies of the parameters and moments, both backends
        const o = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 };
        const [p1, m1, v1] = [b.fromArray(hx), b.zeros(R * C, 'float32'), b.zeros(R * C, 'float32')];
        const [p2, m2, v2] = [cpuRef.fromArray(hx), cpuRef.zeros(R * C, 'float32'), cpuRef.zeros(R * C, 'float32')];
        b.adamwInPlace(p1, y, m1, v1, o); cpuRef.adamwInPlace(p2, ry, m2, v2, o);
        checked(b, 'adamw', () => [p1, m1, v1], () => [p2, m2, v2], 1e-7, 1e-5);
      }
      row(b, 'softmax', `${R}x${C}`, 5 * R * C, time(b, () => [b.softmax(x, R, C, false)]));
      row(b, 'normalize', `layer_norm ${R}x${C}`, 7 * R * C, time(b, () => { const r = b.normalize(x, R, C, 1e-5, false); return [r.y, r.mean, r.rstd]; }));
      row(b, 'elementwise', `add ${R}x${C}`, R * C, time(b, () => [b.binary('add', x, [R, C], y, [R, C], [R, C], 'float32')]));
      const m = b.zeros(R * C, 'float32'), v = b.zeros(R * C, 'float32');
      row(b, 'adamw', `${R * C} params`, 12 * R * C, time(b, () => { b.adamwInPlace(x, y, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 }); return []; }));
      for (const s of [x, y, m, v]) b.free(s);
    }
    b.close();
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = process.argv.includes('--epilogue') ? runWasmEpilogueBench() : runWasmBench();
  if (process.argv.includes('--json')) for (const r of rows) console.log(JSON.stringify(r));
  else {
    console.log('family       case                          threads relaxed       ms   GFLOP/s  GFLOP/cpu-s');
    for (const r of rows) {
      console.log(`${r.family.padEnd(12)} ${r.case.padEnd(29)} ${String(r.threads).padStart(7)} ${String(r.relaxedSimd).padStart(7)} ${r.ms.toFixed(2).padStart(8)} ${r.gflops.toFixed(1).padStart(9)} ${r.cpuGflops.toFixed(1).padStart(12)}`);
    }
  }
}
