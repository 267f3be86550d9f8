// Lazy fusion of float32 elementwise ops (unary, unaryGrad, binary) into generated kernels.
//
// A chain of small elementwise ops is bound by the cost of a dispatch (~30 µs on lavapipe, which
// wakes its thread pool for each), not by the math. So when a simple rule allows, an op returns
// a *pending* storage: an expression node over its operands, with its buffer allocated but not
// written. One generated kernel (shaders/fused_elementwise.wgsl) computes the whole expression
// when something needs the buffer: any other kernel, a read, a copy (asGPU in storage.ts),
// sync(), or an in-place write to a storage the expression reads (beforeWrite).
//
// The rule: float32 in and out; every operand is full size (as many elements as the output) or
// a single element; the output fits one storage binding; an expression inlines at most
// MAX_FUSED_OPS ops and reads at most (storage buffers per stage - 1) computed storages
// ("leaves"). Past a limit, the pending operands are computed first and become leaves.
// An operand that a pending expression already reads is computed when a second one reads it
// (computed once, not once per consumer). When a kernel runs, the live (not freed) pending
// intermediates it inlines are written too, as extra outputs, while bindings are left.
//
// Lifetimes: `users` counts the pending nodes that read a storage. free() of a storage still
// read keeps its buffer (or, if pending, its expression) until the last reader is computed or
// dropped; freeing a pending storage nobody reads drops it without computing it.
import type { BinaryOp, DifferentiableUnaryOp, UnaryOp } from '../../backend.ts';
import { BINARY_CODES, UNARY_CODES } from './ops/elementwise.ts';
import { Params, type WebGPURuntime, workOfBytes } from './runtime.ts';
import { replaceSection, shaderSection, shaderSource } from './shaders.ts';
import type { GPUStorage } from './storage.ts';

const WG = 256;
/** Ops one fused kernel inlines at most (bounds its size and compile time). */
export const MAX_FUSED_OPS = 64;
/** Storage bindings (leaves + outputs) of one fused kernel at most, fewer if the device allows fewer. */
const MAX_FUSED_BUFFERS = 16;

type Kind = 'unary' | 'unaryGrad' | 'binary';

/** The expression of a pending storage: one op over its operands (pending or computed). */
export class FusedNode {
  constructor(
    readonly fusion: Fusion,
    readonly kind: Kind,
    /** The op's name, for labels. */
    readonly op: string,
    /** The op code of unary.wgsl / binary.wgsl. */
    readonly code: number,
    readonly args: readonly GPUStorage[],
    /** Ops this expression inlines (an upper bound: an inlined operand may be computed since). */
    readonly ops: number,
    /** Computed storages it reads (as of its creation; materialise() recounts). */
    readonly leaves: readonly GPUStorage[],
  ) {}
}

const distinct = (args: readonly GPUStorage[]): readonly GPUStorage[] => (args.length === 2 && args[0] === args[1] ? [args[0]!] : args);

export class Fusion {
  /** Pending storages not freed yet: what sync() and in-place writes compute. */
  private live = new Set<GPUStorage>();
  /** Generated kernel sources by expression structure (the same string object is reused, so
   * the runtime's pipeline cache hashes it once). */
  private kernels = new Map<string, string>();
  private formulas: string | null = null;
  readonly maxBuffers: number;
  /** Fused kernels dispatched (tests). */
  fusedDispatches = 0;

  constructor(readonly rt: WebGPURuntime, readonly enabled = true) {
    this.maxBuffers = Math.min(MAX_FUSED_BUFFERS, rt.maxStorageBuffers);
  }

  // --- recording ----------------------------------------------------------------------------

  /** A pending y = op(x), or null when the rule does not allow it (the caller runs the kernel). */
  unary(op: UnaryOp, x: GPUStorage): GPUStorage | null {
    if (!this.fits(x.size, x, x)) return null;
    return this.record('unary', op, UNARY_CODES[op], x.size, [x]);
  }

  /** A pending dx = gy * f'(x), or null. */
  unaryGrad(op: DifferentiableUnaryOp, x: GPUStorage, gy: GPUStorage): GPUStorage | null {
    if (!this.fits(x.size, x, gy)) return null;
    return this.record('unaryGrad', `${op}'`, UNARY_CODES[op], x.size, [x, gy]);
  }

  /** A pending out = a (op) b of n elements, or null. */
  binary(op: BinaryOp, a: GPUStorage, b: GPUStorage, n: number, outFloat: boolean): GPUStorage | null {
    if (!outFloat || !this.fits(n, a, b)) return null;
    return this.record('binary', op, BINARY_CODES[op], n, [a, b]);
  }

  private fits(n: number, a: GPUStorage, b: GPUStorage): boolean {
    return this.enabled && n > 0 && n * 4 <= this.rt.maxBinding
      && a.dtype === 'float32' && b.dtype === 'float32'
      && (a.size === n || a.size === 1) && (b.size === n || b.size === 1);
  }

  private record(kind: Kind, op: string, code: number, n: number, args: GPUStorage[]): GPUStorage {
    const operands = distinct(args);
    // A pending operand another expression already reads is computed once, here, and read by both.
    for (const a of operands) if (a.pending && a.users > 0) this.materialise(a);
    let ops = 1;
    const leaves: GPUStorage[] = [];
    for (const a of operands) {
      for (const l of a.pending ? a.pending.leaves : [a]) if (!leaves.includes(l)) leaves.push(l);
      if (a.pending) ops += a.pending.ops;
    }
    if (ops > MAX_FUSED_OPS || leaves.length + 1 > this.maxBuffers) {
      // Over a limit: compute the pending operands; this op starts a new expression over them.
      for (const a of operands) if (a.pending) this.materialise(a);
      ops = 1;
      leaves.length = 0;
      leaves.push(...operands);
    }
    const out = this.rt.alloc(n, 'float32');
    out.pending = new FusedNode(this, kind, op, code, args, ops, leaves);
    for (const a of operands) a.users++;
    this.live.add(out);
    return out;
  }

  // --- lifetimes ------------------------------------------------------------------------------

  /** Backend.free: a pending storage nobody reads is dropped, never computed. */
  free(s: GPUStorage): void {
    if (s.freed) return;
    this.rt.free(s);
    if (s.pending) {
      this.live.delete(s);
      if (s.users === 0) this.drop(s);
    }
  }

  /** Before a kernel writes into `s` in place: compute every pending expression (one may read s). */
  beforeWrite(s: GPUStorage): void {
    if (s.users > 0) this.materialiseAll();
    if (s.users > 0) throw new Error(`webgpu fusion: ${s.users} pending expression(s) still read a storage about to be written in place`);
  }

  /** Computes every live pending storage (sync, in-place writes). */
  materialiseAll(): void {
    // Roots (read by no pending node) first: their kernels write the live intermediates too.
    const all = [...this.live].sort((a, b) => a.users - b.users);
    for (const s of all) if (s.pending) this.materialise(s);
  }

  private drop(s: GPUStorage): void {
    const node = s.pending!;
    s.pending = null;
    this.releaseOperands(node);
  }

  private releaseOperands(node: FusedNode): void {
    for (const a of distinct(node.args)) {
      a.users--;
      if (a.users > 0 || !a.freed) continue;
      if (a.pending) this.drop(a);
      else this.rt.release(a);
    }
  }

  // --- computing --------------------------------------------------------------------------

  /** Computes the pending storage `root` (and live intermediates it inlines) in one dispatch. */
  materialise(root: GPUStorage): void {
    const n = root.size;
    const order: GPUStorage[] = []; // inlined nodes, operands before their users
    const leaves: GPUStorage[] = [];
    const seen = new Set<GPUStorage>();
    const visit = (s: GPUStorage): void => {
      if (seen.has(s)) return;
      seen.add(s);
      if (!s.pending) { leaves.push(s); return; }
      for (const a of s.pending.args) visit(a);
      order.push(s);
    };
    visit(root);
    if (leaves.length + 1 > this.maxBuffers) {
      // An inlined operand was computed since the node was recorded, adding a leaf: split at
      // the root's operands (a freed one needs a buffer again to be computed on its own).
      for (const a of distinct(root.pending!.args)) {
        if (!a.pending) continue;
        if (a.freed) this.rt.rebuffer(a);
        this.materialise(a);
      }
      this.materialise(root);
      return;
    }
    // Extra outputs: live intermediates of the same size (a scalar one is left pending).
    const outputs = [root];
    for (const s of order) {
      if (outputs.length + leaves.length >= this.maxBuffers) break;
      if (s !== root && !s.freed && s.size === n) outputs.push(s);
    }

    // Sizes divisible by 4 run as vec4: an invocation loads and stores 4 elements at once (on
    // lavapipe every storage access is a per-lane loop, so this took a 4M-element mul-add from
    // 15.8 to 8.9 ms); the op formulas stay scalar and are applied per component. Small sizes
    // stay scalar: a quarter of the invocations would fill fewer workgroups than a software
    // adapter has threads (a chain on [1024] ran 2x slower as vec4).
    const vec = n % 4 === 0 && n >= 16 * WG;
    const elem = vec ? 'vec4f' : 'f32';
    const apply = (call: (...xs: string[]) => string, ...xs: string[]): string =>
      vec ? `vec4f(${['x', 'y', 'z', 'w'].map((c) => call(...xs.map((x) => `${x}.${c}`))).join(', ')})` : call(...xs);
    const names = new Map<GPUStorage, string>();
    let bindings = '', body = '';
    leaves.forEach((l, j) => {
      const scalar = l.size === 1;
      bindings += `@group(0) @binding(${j + 1}) var<storage, read> in${j}: array<${scalar ? 'f32' : elem}>;\n`;
      body += `  let v${names.size} = ${scalar ? `${elem}(in${j}[0])` : `in${j}[i]`};\n`;
      names.set(l, `v${names.size}`);
    });
    for (const s of order) {
      const node = s.pending!;
      const [a, b] = node.args.map((x) => names.get(x)!);
      const fn = node.kind === 'unary' ? 'unary_op' : node.kind === 'unaryGrad' ? 'unary_grad_op' : 'binary_op';
      const expr = node.kind === 'unary' ? apply((x) => `${fn}(${node.code}u, ${x})`, a!) : apply((x, y) => `${fn}(${node.code}u, ${x}, ${y})`, a!, b!);
      body += `  let v${names.size} = ${expr};\n`;
      names.set(s, `v${names.size}`);
    }
    outputs.forEach((o, j) => {
      bindings += `@group(0) @binding(${leaves.length + 1 + j}) var<storage, read_write> out${j}: array<${elem}>;\n`;
      body += `  out${j}[i] = ${names.get(o)};\n`;
    });
    const lanes = vec ? n / 4 : n;
    const label = `fused[${n}](${summarise(order.map((s) => s.pending!.op))})`;
    const spec = { file: 'fused_elementwise', entry: 'fused', generated: this.source(bindings, body), overrides: { WG } };
    this.rt.dispatch(spec, new Params().u(lanes).u(0).u(0).u(0), [...leaves, ...outputs], this.rt.grid1D(lanes, WG), label,
      // ~8 flop-equivalents per op and element, plus the bytes every operand and output moves
      8 * n * order.length + workOfBytes(4 * n * (leaves.length + outputs.length)));
    this.fusedDispatches++;

    const done = outputs.map((o) => { const node = o.pending!; o.pending = null; this.live.delete(o); return node; });
    for (const node of done) this.releaseOperands(node);
  }

  /** The kernel source for generated bindings and body, cached by them. */
  private source(bindings: string, body: string): string {
    const key = `${bindings}|${body}`;
    let src = this.kernels.get(key);
    if (src === undefined) {
      this.formulas ??= `\n// unary.wgsl\n${shaderSection('unary', 'op formulas')}\n// binary.wgsl\n${shaderSection('binary', 'op formulas')}`;
      let t = shaderSource('fused_elementwise');
      t = replaceSection(t, 'fused_elementwise', 'generated bindings', bindings);
      t = replaceSection(t, 'fused_elementwise', 'generated body', body);
      src = t + this.formulas;
      if (this.kernels.size >= 1024) this.kernels.clear();
      this.kernels.set(key, src);
    }
    return src;
  }
}

function summarise(ops: string[]): string {
  if (ops.length <= 10) return ops.join(', ');
  return `${ops.slice(0, 5).join(', ')}, ..., ${ops.slice(-3).join(', ')}: ${ops.length} ops`;
}
