// The optimizer base: parameter groups with their own hyper-parameters (as torch.optim), lazily
// created per-parameter state, and a state dict indexed by parameter position so training
// checkpoints can resume.
import { keep } from '../engine.ts';
import { shapeStr } from '../shape.ts';
import { Tensor } from '../tensor.ts';

/** Hyper-parameters every optimizer has; subclasses add their own (all numbers or booleans). */
export interface BaseHyper { lr: number }

export type ParamGroup<H extends BaseHyper> = H & { params: Tensor[] };

/** Constructor input: parameters, or groups of parameters overriding some of the defaults. */
export type ParamsInput<H extends BaseHyper> = Iterable<Tensor> | readonly (Partial<H> & { params: Iterable<Tensor> })[];

/** One parameter's state: tensors (same shape as the parameter) and numbers such as the step. */
export type ParamState = Record<string, Tensor | number>;

/** A group in a state dict: its hyper-parameters by name, and `params`, its parameter indices. */
export interface SavedParamGroup { params: number[]; [hyper: string]: number | boolean | number[] }

export interface OptimizerStateDict {
  /** State by parameter index, counting through the groups in order (PyTorch's numbering). */
  state: Map<number, ParamState>;
  /** Each group's hyper-parameters and the indices of its parameters. */
  paramGroups: SavedParamGroup[];
}

export abstract class Optimizer<H extends BaseHyper, S extends ParamState> {
  readonly paramGroups: ParamGroup<H>[];
  /** Per-parameter state, created on a parameter's first update. Its tensors are kept. */
  protected readonly state = new Map<Tensor, S>();

  constructor(params: ParamsInput<H>, readonly defaults: H) {
    const list = [...params] as (Tensor | (Partial<H> & { params: Iterable<Tensor> }))[];
    const groups = list.length > 0 && !(list[0] instanceof Tensor)
      ? (list as (Partial<H> & { params: Iterable<Tensor> })[])
      : [{ params: list as Tensor[] }];
    // An option left undefined in a group falls back to the default instead of erasing it.
    const given = (g: object): object => Object.fromEntries(Object.entries(g).filter(([, v]) => v !== undefined));
    this.paramGroups = groups.map((g) => ({ ...defaults, ...given(g), params: [...g.params] }) as ParamGroup<H>);
    const seen = new Set<Tensor>();
    for (const p of this.paramGroups.flatMap((g) => g.params)) {
      if (!(p instanceof Tensor)) throw new TypeError('optimizer: params must be Tensors or groups { params: Tensor[], ...options }');
      if (seen.has(p)) throw new Error(`optimizer: parameter ${p.name ?? shapeStr(p.shape)} appears twice`);
      if (p.dtype !== 'float32') throw new TypeError(`optimizer: parameter ${p.name ?? shapeStr(p.shape)} is ${p.dtype}, expected float32`);
      seen.add(p);
    }
  }

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** Reads an entry of a loaded state dict back into this optimizer's state for p. */
  protected abstract stateFromDict(p: Tensor, entry: ParamState, where: string): S;

  /** Drops every gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.zeroGrad();
  }

  /** The first group's learning rate; setting it sets every group's. */
  get lr(): number { return this.paramGroups[0]?.lr ?? this.defaults.lr; }
  set lr(value: number) { for (const g of this.paramGroups) g.lr = value; }

  /** Every parameter, in state-dict index order. */
  params(): Tensor[] { return this.paramGroups.flatMap((g) => g.params); }

  /**
   * A snapshot of the state: tensors are fresh copies owned by the caller (the live ones are
   * updated in place, so handing them out would let later steps change a saved checkpoint).
   */
  stateDict(): OptimizerStateDict {
    const state = new Map<number, ParamState>();
    this.params().forEach((p, i) => {
      const s = this.state.get(p);
      if (!s) return;
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) copy[k] = typeof v === 'number' ? v : copyOf(v);
      state.set(i, copy);
    });
    let next = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const saved: SavedParamGroup = { params: g.params.map(() => next++) };
      for (const [k, v] of Object.entries(g)) if (typeof v === 'number' || typeof v === 'boolean') saved[k] = v;
      return saved;
    });
    return { state, paramGroups };
  }

  /**
   * Restores a state dict from an optimizer over the same parameters (same groups, sizes and
   * order): group hyper-parameters are taken from it, and the state is copied (the optimizer
   * owns its tensors exclusively, so the dict can be disposed afterwards).
   */
  loadStateDict(sd: OptimizerStateDict): void {
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new Error(`loadStateDict: the state dict has ${sd.paramGroups.length} param groups, the optimizer ${this.paramGroups.length}`);
    }
    sd.paramGroups.forEach((g, i) => {
      const n = this.paramGroups[i]!.params.length;
      if (g.params.length !== n) throw new Error(`loadStateDict: param group ${i} has ${g.params.length} parameters in the state dict, ${n} in the optimizer`);
    });
    const params = this.params();
    for (const i of sd.state.keys()) {
      if (!(i >= 0 && i < params.length)) throw new Error(`loadStateDict: state for parameter index ${i}, but the optimizer has ${params.length} parameters`);
    }
    // Parse everything before changing anything, so a bad dict leaves the optimizer intact.
    const parsed = new Map<Tensor, S>();
    try {
      for (const [i, entry] of sd.state) parsed.set(params[i]!, this.stateFromDict(params[i]!, entry, `parameter ${i}`));
    } catch (err) {
      for (const s of parsed.values()) disposeState(s);
      throw err;
    }
    for (const s of this.state.values()) disposeState(s);
    this.state.clear();
    for (const [p, s] of parsed) this.state.set(p, s);
    sd.paramGroups.forEach((g, i) => {
      const group = this.paramGroups[i]!, updates: Record<string, number | boolean> = {};
      // Only hyper-parameters this optimizer has, with the same type (numbers stay numbers).
      for (const [k, v] of Object.entries(g)) if (typeof v !== 'object' && typeof v === typeof Reflect.get(group, k)) updates[k] = v;
      Object.assign(group, updates);
    });
  }

  /** Frees the state tensors (the parameters are the caller's). */
  dispose(): void {
    for (const s of this.state.values()) disposeState(s);
    this.state.clear();
  }
}

function disposeState(s: ParamState): void {
  for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
}

/** A contiguous copy of t in a storage of its own, kept out of tidy scopes. */
export function copyOf(t: Tensor): Tensor {
  const b = t.backend;
  const storage = b.gatherStrided(t.storage, { shape: [t.size], strides: [1], offset: 0 });
  return keep(Tensor.fromStorage(b, storage, t.shape));
}

/**
 * Makes sure p's storage is not shared (with a reshape view, a detached handle or a loaded
 * checkpoint) before a kernel updates it in place; copies it once if it is.
 */
export function ensureExclusive(p: Tensor): void {
  if (p.data_().refs === 1) return;
  const fresh = copyOf(p);
  p.assign(fresh);
  fresh.dispose();
}

/** A state tensor from a loaded dict: checked against the parameter, then copied. */
export function stateTensor(entry: ParamState, key: string, p: Tensor, where: string): Tensor {
  const v = entry[key];
  if (!(v instanceof Tensor)) throw new Error(`loadStateDict: ${where} has no tensor "${key}"`);
  if (v.shape.join() !== p.shape.join() || v.dtype !== p.dtype) {
    throw new Error(`loadStateDict: ${where} "${key}" is ${shapeStr(v.shape)} ${v.dtype}, the parameter ${shapeStr(p.shape)} ${p.dtype}`);
  }
  if (v.backend !== p.backend) throw new Error(`loadStateDict: ${where} "${key}" is on backend ${v.backend.name}, the parameter on ${p.backend.name}`);
  return copyOf(v);
}

export function stateNumber(entry: ParamState, key: string, where: string): number {
  const v = entry[key];
  if (typeof v !== 'number') throw new Error(`loadStateDict: ${where} has no number "${key}"`);
  return v;
}
