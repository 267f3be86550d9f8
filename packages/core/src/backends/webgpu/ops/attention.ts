// Attention forward (online softmax) and backward (delta, dQ, dK/dV), see shaders/attention.wgsl.
import type { AttentionArgs } from '../../../backend.ts';
import { Params, type WebGPURuntime } from '../runtime.ts';
import type { GPUStorage } from '../storage.ts';

const WG = 64;

function params(a: AttentionArgs): Params {
  return new Params().u(a.batch).u(a.heads).u(a.kvHeads).u(a.tq).u(a.tk).u(a.dim).u(a.dimV).f(a.scale)
    .u(a.causal ? 1 : 0).u(a.mask ? 1 : 0).u(a.maskBatchStride).u(a.maskHeadStride);
}

function spec(entry: string, a: AttentionArgs) {
  // Register arrays sized to the head dims (rounded up, so few pipeline variants).
  const round = (d: number) => `${Math.max(4, Math.ceil(d / 16) * 16)}u`;
  return { file: 'attention', entry, subst: { MAXD: round(a.dim), MAXDV: round(a.dimV) }, overrides: { WG } };
}

const describe = (a: AttentionArgs) =>
  `B${a.batch} H${a.heads}/${a.kvHeads} tq${a.tq} tk${a.tk} d${a.dim}/${a.dimV}${a.causal ? ' causal' : ''}${a.mask ? ' mask' : ''}`;

const flops = (a: AttentionArgs) => 2 * a.batch * a.heads * a.tq * a.tk * (a.dim + a.dimV);

function check(a: AttentionArgs): void {
  if (a.heads % a.kvHeads !== 0) throw new Error(`webgpu attention: heads ${a.heads} not a multiple of kvHeads ${a.kvHeads}`);
}

export function attention(rt: WebGPURuntime, q: GPUStorage, k: GPUStorage, v: GPUStorage, mask: GPUStorage | undefined, a: AttentionArgs) {
  check(a);
  const rows = a.batch * a.heads * a.tq;
  const out = rt.alloc(rows * a.dimV, 'float32');
  const lse = rt.alloc(rows, 'float32');
  if (rows === 0) return { out, lse };
  rt.dispatch(spec('attention', a), params(a), [q, k, v, mask ?? q, out, lse], rt.grid1D(rows, WG), `attention ${describe(a)}`, flops(a));
  return { out, lse };
}

export function attentionGrad(rt: WebGPURuntime, q: GPUStorage, k: GPUStorage, v: GPUStorage, mask: GPUStorage | undefined,
  out: GPUStorage, lse: GPUStorage, gOut: GPUStorage, a: AttentionArgs) {
  check(a);
  const rows = a.batch * a.heads * a.tq;
  const keys = a.batch * a.kvHeads * a.tk;
  const gq = rt.alloc(rows * a.dim, 'float32');
  const gk = rt.alloc(keys * a.dim, 'float32');
  const gv = rt.alloc(keys * a.dimV, 'float32');
  if (rows === 0 || keys === 0) {
    rt.clear(gq); rt.clear(gk); rt.clear(gv);
    return { gq, gk, gv };
  }
  const delta = rt.alloc(rows, 'float32');
  const p = params(a);
  const m = mask ?? q;
  const label = describe(a);
  rt.dispatch(spec('attention_delta', a), p, [null, null, null, null, null, null, out, gOut, delta], rt.grid1D(rows, WG), `attentionGrad.delta ${label}`);
  rt.dispatch(spec('attention_dq', a), p, [q, k, v, m, gq, lse, null, gOut, delta], rt.grid1D(rows, WG), `attentionGrad.dq ${label}`, 2 * flops(a));
  rt.dispatch(spec('attention_dkv', a), p, [q, k, v, m, gk, lse, null, gOut, delta, gv], rt.grid1D(keys, WG), `attentionGrad.dkv ${label}`, 2 * flops(a));
  rt.free(delta);
  return { gq, gk, gv };
}
