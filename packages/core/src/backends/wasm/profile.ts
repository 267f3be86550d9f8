// Opt-in per-op timing for the wasm backend (RECONVLA_DEBUG=wasm-profile, or profile: true):
// every Backend method is wrapped with a wall-clock timer keyed by op kind, and matmuls,
// attention and convolutions by shape too, so a training step's time can be split into GEMM
// shapes and the passes around them. Off by default: the wrappers cost ~1 us a call.
import type { AttentionArgs, Conv2dArgs, MatmulArgs, ReduceShape } from '../../backend.ts';

export interface ProfileRow { op: string; calls: number; ms: number; flops: number }

/** The profile key of one call: method name, refined by op / shape where that tells passes apart. */
function keyOf(method: string, args: readonly unknown[]): { key: string; flops: number } {
  if (method === 'matmul') {
    const a = args[2] as MatmulArgs;
    const t = `${a.transA ? 'T' : 'N'}${a.transB ? 'T' : 'N'}`;
    return { key: `matmul ${a.batch > 1 ? `${a.batch}x ` : ''}${a.m}x${a.k}x${a.n} ${t}${a.bias ? '+bias' : ''}`, flops: 2 * a.batch * a.m * a.k * a.n };
  }
  if (method === 'attention' || method === 'attentionGrad') {
    const a = args[method === 'attention' ? 3 : 6] as AttentionArgs;
    // Forward: QK^T and PV; backward: those two again plus dQ, dK, dV.
    const flops = 2 * a.batch * a.heads * a.tq * a.tk * (a.dim + a.dimV) * (method === 'attention' ? 1 : 2.5);
    return { key: `${method} ${a.batch}x${a.heads}h ${a.tq}x${a.tk} d${a.dim}${a.causal ? ' causal' : ''}${a.mask ? ' mask' : ''}`, flops };
  }
  if (method === 'conv2d' || method === 'conv2dGradInput' || method === 'conv2dGradWeight') {
    const a = args[method === 'conv2d' ? 3 : 2] as Conv2dArgs;
    return { key: `${method} ${a.n}x${a.c}x${a.h}x${a.w} -> ${a.o} k${a.kh}x${a.kw} s${a.strideH}`, flops: 2 * a.n * a.o * a.oh * a.ow * a.c * a.kh * a.kw };
  }
  if (method === 'reduce') {
    const s = args[2] as ReduceShape;
    return { key: `reduce.${String(args[0])} [${s.outer},${s.len},${s.inner}]`, flops: 0 };
  }
  if (method === 'binary' || method === 'unary' || method === 'unaryGrad') return { key: `${method}.${String(args[0])}`, flops: 0 };
  return { key: method, flops: 0 };
}

export class Profiler {
  private readonly rows = new Map<string, ProfileRow>();
  /** Calls in progress: a method called by another (attentionGrad's zeros) counts in its caller. */
  private depth = 0;

  /** Replaces every method of `target` named in `methods` with a timed wrapper. */
  wrap<T extends object>(target: T, methods: readonly string[]): void {
    const obj = target as Record<string, unknown>;
    for (const name of methods) {
      const fn = obj[name];
      if (typeof fn !== 'function') continue;
      const rows = this.rows, self = this;
      obj[name] = function (this: unknown, ...args: unknown[]): unknown {
        const t0 = performance.now();
        self.depth++;
        try { return (fn as (...a: unknown[]) => unknown).apply(this, args); } finally {
          if (--self.depth === 0) {
            const { key, flops } = keyOf(name, args);
            const r = rows.get(key) ?? { op: key, calls: 0, ms: 0, flops: 0 };
            r.calls++; r.ms += performance.now() - t0; r.flops += flops;
            rows.set(key, r);
          }
        }
      };
    }
  }

  /** Rows sorted by total time, largest first. */
  report(): ProfileRow[] { return [...this.rows.values()].sort((a, b) => b.ms - a.ms).map((r) => ({ ...r })); }
  reset(): void { this.rows.clear(); }

  /** A text table: op, calls, total ms, share, GFLOP/s for matmuls. */
  format(): string {
    const rows = this.report(), total = rows.reduce((s, r) => s + r.ms, 0);
    const lines = [`${'op'.padEnd(40)} ${'calls'.padStart(7)} ${'ms'.padStart(9)} ${'%'.padStart(5)} ${'GFLOP/s'.padStart(8)}`];
    for (const r of rows) {
      lines.push(`${r.op.padEnd(40)} ${String(r.calls).padStart(7)} ${r.ms.toFixed(2).padStart(9)} ${(100 * r.ms / total).toFixed(1).padStart(5)} ${r.flops ? (r.flops / r.ms / 1e6).toFixed(1).padStart(8) : ''}`);
    }
    lines.push(`${'total'.padEnd(40)} ${''.padStart(7)} ${total.toFixed(2).padStart(9)}`);
    return lines.join('\n');
  }
}
