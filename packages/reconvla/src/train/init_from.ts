// Starting a run from another run's (or model folder's) weights for some of its parts, as upstream
// starts from a pretrained vision tower and projector: after the from-scratch initialisation, the
// parameters whose state-dict key starts with one of the prefixes are copied from the source. Every
// such parameter must exist there with the same shape (a silent partial copy would be a different
// experiment); the rest keep their fresh values.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { noGrad, type Backend } from '@reconvla/core';
import type { ReconVLA } from '../model.ts';
import { loadPretrained } from '../pretrained.ts';
import { loadRun } from '../run.ts';

export interface InitFrom {
  /** A run folder (its final model, else its latest checkpoint) or a model folder. */
  path: string;
  /** State-dict key prefixes to copy, e.g. ["model.locator."]; [""] copies every parameter. */
  prefixes: string[];
}

/** Copies the named parameters into `model`; returns the keys copied. */
export function initFrom(model: ReconVLA, from: InitFrom, backend: Backend): string[] {
  if (!fs.existsSync(from.path)) throw new Error(`init from ${from.path}: no such run or model folder`);
  if (from.prefixes.length === 0) throw new Error(`init from ${from.path}: no key prefixes given (e.g. "model.locator.")`);
  const source = fs.existsSync(path.join(from.path, 'model.safetensors')) ? loadPretrained(from.path, { backend }) : loadRun(from.path, backend).model;
  try {
    const theirs = new Map(source.namedParameters());
    const copied: string[] = [];
    noGrad(() => {
      for (const [key, p] of model.namedParameters()) {
        if (!from.prefixes.some((pre) => key.startsWith(pre))) continue;
        const src = theirs.get(key);
        if (!src) throw new Error(`init from ${from.path}: it has no parameter ${key}`);
        if (src.shape.join() !== p.shape.join()) throw new Error(`init from ${from.path}: ${key} is [${src.shape.join(', ')}] there, [${p.shape.join(', ')}] here`);
        p.assign(src);
        copied.push(key);
      }
    });
    if (copied.length === 0) throw new Error(`init from ${from.path}: no parameter of this model starts with ${from.prefixes.map((x) => `"${x}"`).join(' or ')}`);
    return copied;
  } finally {
    source.dispose();
  }
}
