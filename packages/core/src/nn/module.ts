// Module: a tree of named parameters, buffers and sub-modules whose dotted names are the
// PyTorch/Hugging Face state_dict keys (e.g. "model.layers.0.self_attn.q_proj.weight").
import { keep, noGrad, tidy } from '../engine.ts';
import { astype } from '../ops/elementwise.ts';
import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

export interface LoadResult { missing: string[]; unexpected: string[]; mismatched: string[] }

export class StateDictError extends Error {
  constructor(readonly result: LoadResult, where: string) {
    const parts: string[] = [];
    if (result.missing.length) parts.push(`missing keys: ${result.missing.join(', ')}`);
    if (result.unexpected.length) parts.push(`unexpected keys: ${result.unexpected.join(', ')}`);
    if (result.mismatched.length) parts.push(`mis-shaped: ${result.mismatched.join('; ')}`);
    super(`${where}: ${parts.join('; ')}`);
    this.name = 'StateDictError';
  }
}

const isFloat = (t: Tensor): boolean => t.dtype === 'float32' || t.dtype === 'float16';

export class Module {
  training = true;
  private readonly _params = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, { t: Tensor; persistent: boolean }>();
  private readonly _modules = new Map<string, Module>();

  /** Registers a trainable tensor under name (requiresGrad on, kept out of tidy scopes). */
  registerParameter(name: string, t: Tensor): Tensor;
  registerParameter(name: string, t: null): null;
  registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.checkName(name);
    if (t) { keep(t); t.requiresGrad_(true); }
    this._params.set(name, t);
    return t;
  }
  /** Registers a non-trainable tensor; persistent buffers are part of the state dict. */
  registerBuffer(name: string, t: Tensor, persistent = true): Tensor {
    this.checkName(name);
    keep(t);
    this._buffers.set(name, { t, persistent });
    return t;
  }
  registerModule<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this._modules.set(name, m);
    return m;
  }
  private checkName(name: string): void {
    if (!name || name.includes('.')) throw new Error(`Module: invalid name "${name}" (no dots; use sub-modules for nesting)`);
    if (this._params.has(name) || this._buffers.has(name) || this._modules.has(name)) throw new Error(`Module: "${name}" is registered twice`);
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [n, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${n}` : n);
  }
  children(): Module[] { return [...this._modules.values()]; }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, t] of m._params) if (t) yield [path ? `${path}.${n}` : n, t];
    }
  }
  parameters(): Tensor[] { return [...this.namedParameters()].map(([, t]) => t); }

  *namedBuffers(prefix = '', persistentOnly = false): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, b] of m._buffers) if (!persistentOnly || b.persistent) yield [path ? `${path}.${n}` : n, b.t];
    }
  }

  /** Parameters and persistent buffers by state-dict key. The tensors are the module's own. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers('', true)]);
  }

  /**
   * Copies values from sd into this module's tensors (same shapes, same backend: load a
   * checkpoint with the module's backend). With strict (the default), any missing,
   * unexpected or mis-shaped key throws a StateDictError naming all of them, before anything
   * is changed.
   */
  loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const src = sd instanceof Map ? sd : new Map(Object.entries(sd));
    const own = this.stateDict();
    const result: LoadResult = { missing: [], unexpected: [], mismatched: [] };
    for (const [k, t] of own) {
      const s = src.get(k);
      if (!s) result.missing.push(k);
      else if (s.shape.join() !== t.shape.join()) result.mismatched.push(`${k}: checkpoint ${shapeStr(s.shape)}, model ${shapeStr(t.shape)}`);
      else if (s.dtype !== t.dtype && !(isFloat(s) && isFloat(t))) result.mismatched.push(`${k}: checkpoint ${s.dtype}, model ${t.dtype}`);
      else if (s.backend !== t.backend) result.mismatched.push(`${k}: checkpoint on backend ${s.backend.name}, model on ${t.backend.name}`);
    }
    for (const k of src.keys()) if (!own.has(k)) result.unexpected.push(k);
    if (strict && (result.missing.length || result.unexpected.length || result.mismatched.length)) {
      throw new StateDictError(result, 'loadStateDict');
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const s = src.get(k);
        if (!s || s.shape.join() !== t.shape.join() || s.backend !== t.backend) continue;
        if (s.dtype === t.dtype) t.assign(s);
        else if (isFloat(s) && isFloat(t)) tidy(() => { t.assign(astype(s, t.dtype)); }); // float32 <-> float16, as torch's copy_
      }
    });
    return result;
  }

  /**
   * Stores the matmul weights of this (frozen, inference) module in float16: every parameter of
   * rank 2 (Linear [out, in] and Embedding [num, dim] weights; a tied embedding/LM head is one
   * tensor) unless `select` picks others. Norm weights, biases, conv kernels and buffers stay
   * float32: they are small, and float16 would only add a cast per use. Converted parameters
   * stop requiring gradients (float16 is a storage dtype); the layers keep their references.
   * Rounding is to nearest even, and a weight beyond float16's range becomes inf as with
   * torch's .half(): load checkpoints with fromSafetensors({ float16 }) to have that checked.
   */
  half(select: (name: string, t: Tensor) => boolean = (_n, t) => t.rank === 2): this {
    noGrad(() => {
      for (const [name, p] of this.namedParameters()) {
        if (p.dtype !== 'float32' || !select(name, p)) continue;
        p.requiresGrad = false;
        p.zeroGrad();
        tidy(() => { p.replaceData_(astype(p, 'float16')); });
      }
    });
    return this;
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  eval(): this { return this.train(false); }

  /** Freezes (false) or unfreezes every parameter. */
  requiresGrad_(flag: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }
  zeroGrad(): void { for (const p of this.parameters()) p.zeroGrad(); }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.namedParameters()) t.dispose();
    for (const [, t] of this.namedBuffers()) t.dispose();
  }
}

/** Sub-modules named 0, 1, 2, ... (PyTorch ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  constructor(items: Iterable<M> = []) {
    super();
    for (const m of items) this.append(m);
  }
  append(m: M): this {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
    return this;
  }
  get length(): number { return this.items.length; }
  at(i: number): M {
    const m = this.items[i];
    if (!m) throw new RangeError(`ModuleList: index ${i} out of range (length ${this.items.length})`);
    return m;
  }
  [Symbol.iterator](): Iterator<M> { return this.items[Symbol.iterator](); }
}
