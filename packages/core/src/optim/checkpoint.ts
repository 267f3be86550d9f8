// Optimizer state dicts as flat safetensors content: tensors named "state.<index>.<name>" (the
// PyTorch names, e.g. state.0.exp_avg) and everything else (steps, group hyper-parameters)
// as JSON in the file's string metadata, so a training checkpoint is one ordinary file.
import type { Tensor } from '../tensor.ts';
import type { OptimizerStateDict, ParamState, SavedParamGroup } from './optimizer.ts';

const META_KEY = 'optimizer';

interface MetaJson { numbers: Record<string, Record<string, number>>; paramGroups: SavedParamGroup[] }

/** Splits a state dict into tensors and string metadata, for saveSafetensors(path, tensors, { metadata }). */
export function flattenOptimizerState(sd: OptimizerStateDict): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, Tensor>();
  const numbers: MetaJson['numbers'] = {};
  for (const [i, entry] of sd.state) {
    for (const [k, v] of Object.entries(entry)) {
      if (typeof v === 'number') (numbers[i] ??= {})[k] = v;
      else tensors.set(`state.${i}.${k}`, v);
    }
  }
  const meta: MetaJson = { numbers, paramGroups: sd.paramGroups };
  return { tensors, metadata: { [META_KEY]: JSON.stringify(meta) } };
}

/** The inverse of flattenOptimizerState (tensors whose names do not start with "state." are ignored). */
export function unflattenOptimizerState(tensors: Map<string, Tensor>, metadata: Record<string, string>): OptimizerStateDict {
  const raw = metadata[META_KEY];
  if (raw === undefined) throw new Error(`unflattenOptimizerState: no "${META_KEY}" entry in the metadata`);
  const meta = JSON.parse(raw) as MetaJson;
  const state = new Map<number, ParamState>();
  const entry = (i: number): ParamState => {
    let e = state.get(i);
    if (!e) { e = {}; state.set(i, e); }
    return e;
  };
  for (const [i, nums] of Object.entries(meta.numbers)) Object.assign(entry(Number(i)), nums);
  for (const [name, t] of tensors) {
    const m = /^state\.(\d+)\.(.+)$/.exec(name);
    if (m) entry(Number(m[1]))[m[2]!] = t;
  }
  return { state, paramGroups: meta.paramGroups };
}
