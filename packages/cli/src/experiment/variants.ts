// The variants an experiment compares: the paper's ablation table (Table 2: a plain VLA, full-frame
// reconstruction, gaze reconstruction without its pretraining, ReconVLA), and any train switch by
// name ("views=static", "state-encoding=bins+llm-layers=4"), each a change to the preset's flags.
import { InvalidArgumentError } from 'commander';
import type { CameraView, StateEncoding } from '@reconvla/reconvla';
import type { TrainFlags } from '../reconvla_commands.ts';

export interface Variant {
  name: string;
  description: string;
  /** The preset's flags with this variant's changes. */
  apply: (f: TrainFlags) => TrainFlags;
}

/** The paper's Table 2 rows, in its order: what `reconvla experiment` runs by default. */
export const PAPER_VARIANTS = ['baseline', 'full', 'gaze-nopretrain', 'gaze'] as const;

const NAMED: Record<string, { description: string; switches: string }> = {
  baseline: { description: 'a plain VLA: no reconstructive branch (the paper\'s baseline)', switches: 'recon=false' },
  full: { description: 'reconstruct the whole frame instead of the gaze crop', switches: 'recon-target=full' },
  'gaze-nopretrain': { description: 'gaze reconstruction without the reconstruction pretraining stage', switches: 'pretrain-steps=0' },
  gaze: { description: 'ReconVLA: gaze reconstruction with its pretraining (the preset as it is)', switches: '' },
};

type Switch = (f: TrainFlags, value: string, where: string) => TrainFlags;

const int = (min: number) => (value: string, where: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${where}: expected an integer >= ${min}, got "${value}"`);
  return n;
};
const bool = (value: string, where: string): boolean => {
  if (value === 'true' || value === 'false') return value === 'true';
  throw new InvalidArgumentError(`${where}: expected true or false, got "${value}"`);
};
const choice = <T extends string>(values: readonly T[]) => (value: string, where: string): T => {
  if ((values as readonly string[]).includes(value)) return value as T;
  throw new InvalidArgumentError(`${where}: expected one of ${values.join(', ')}, got "${value}"`);
};
const views = (value: string, where: string): CameraView[] => {
  const v = value.split('/');
  if (v.some((x) => x !== 'static' && x !== 'gripper') || new Set(v).size !== v.length) throw new InvalidArgumentError(`${where}: expected static or static/gripper, got "${value}"`);
  return v as CameraView[];
};

/** The train flags a variant may change, by their `reconvla train` names. */
const SWITCHES: Record<string, Switch> = {
  recon: (f, v, w) => ({ ...f, recon: bool(v, w) }),
  'recon-target': (f, v, w) => ({ ...f, reconTarget: choice(['gaze', 'full'] as const)(v, w) }),
  'vae-steps': (f, v, w) => ({ ...f, vaeSteps: int(0)(v, w) }),
  'pretrain-steps': (f, v, w) => ({ ...f, pretrainSteps: int(0)(v, w) }),
  'finetune-steps': (f, v, w) => ({ ...f, finetuneSteps: int(1)(v, w) }),
  'vision-steps': (f, v, w) => ({ ...f, visionSteps: int(0)(v, w) }),
  'unfreeze-vision': (f, v, w) => ({ ...f, unfreezeVision: bool(v, w) }),
  views: (f, v, w) => ({ ...f, views: views(v, w) }),
  'state-encoding': (f, v, w) => ({ ...f, stateEncoding: choice<StateEncoding>(['bins', 'linear', 'fourier'])(v, w) }),
  chunk: (f, v, w) => ({ ...f, chunk: int(1)(v, w) }),
  layout: (f, v, w) => ({ ...f, layout: choice(['instr-image-instr', 'image-instr', 'instr-image'] as const)(v, w) }),
  'denoiser-repeat': (f, v, w) => ({ ...f, denoiserRepeat: int(1)(v, w) }),
  'llm-width': (f, v, w) => ({ ...f, llmWidth: int(16)(v, w) }),
  'llm-layers': (f, v, w) => ({ ...f, llmLayers: int(1)(v, w) }),
  'action-bins': (f, v, w) => ({ ...f, actionBins: int(3)(v, w) }),
  'patch-size': (f, v, w) => ({ ...f, patchSize: int(2)(v, w) }),
  'batch-size': (f, v, w) => ({ ...f, batchSize: int(1)(v, w) }),
};

/** "key=value+key=value" as one change of the flags (empty: none). */
function switchesOf(spec: string, name: string): (f: TrainFlags) => TrainFlags {
  const parts = spec ? spec.split('+') : [];
  const steps = parts.map((part) => {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const apply = SWITCHES[key];
    if (eq < 0 || !apply) {
      throw new InvalidArgumentError(`variant "${name}": "${part}" is not a known variant or a switch key=value; variants: ${Object.keys(NAMED).join(', ')}; switches: ${Object.keys(SWITCHES).join(', ')}`);
    }
    const value = part.slice(eq + 1);
    apply({} as TrainFlags, value, `variant "${name}", ${key}`); // checks the value now, not hours later
    return (f: TrainFlags) => apply(f, value, `variant "${name}", ${key}`);
  });
  return (f) => steps.reduce((acc, s) => s(acc), f);
}

/** A variant by name: one of the paper's, or switches such as "views=static+state-encoding=bins". */
export function variantNamed(name: string): Variant {
  if (!/^[A-Za-z0-9=+/._-]+$/.test(name)) throw new InvalidArgumentError(`variant "${name}": use letters, digits and = + / . _ - only (it names a folder)`);
  const known = NAMED[name];
  if (known) return { name, description: known.description, apply: switchesOf(known.switches, name) };
  return { name, description: `the preset with ${name.split('+').join(', ')}`, apply: switchesOf(name, name) };
}

/** `--variants a,b,c`: distinct variants, checked. */
export function variantListArg(v: string): Variant[] {
  const names = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('--variants: the list is empty');
  if (new Set(names).size !== names.length) throw new InvalidArgumentError(`--variants: "${v}" names a variant twice`);
  return names.map(variantNamed);
}
