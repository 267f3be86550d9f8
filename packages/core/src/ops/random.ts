// Seeded random tensors and dropout. A Generator is a key plus a running counter; each draw
// takes the next block of counters, so a program's draws are reproducible on every backend.
import { getBackend } from '../engine.ts';
import { pcgHash } from '../random_bits.ts';
import { checkShape, sizeOf } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import type { CreateOptions } from './creation.ts';
import { add, astype, div, ge, mul, where } from './elementwise.ts';
import { wrap } from './record.ts';

export class Generator {
  private key: number;
  private counter = 0;
  constructor(seed = 0) { this.key = 0; this.manualSeed(seed); }
  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`manualSeed: seed must be a safe integer, got ${seed}`);
    this.key = ((seed >>> 0) ^ pcgHash(Math.floor(seed / 4294967296) >>> 0)) >>> 0;
    this.counter = 0;
    return this;
  }
  /** Reserves n counters and returns the first. */
  take(n: number): { key: number; counter: number } {
    const c = this.counter;
    this.counter = (this.counter + n) % 4294967296;
    return { key: this.key, counter: c };
  }
  /** The state, to save in checkpoints and restore with setState. */
  getState(): { key: number; counter: number } { return { key: this.key, counter: this.counter }; }
  setState(s: { key: number; counter: number }): void { this.key = s.key >>> 0; this.counter = s.counter; }
}

export const defaultGenerator = new Generator(0);

/** Reseeds the default generator. */
export function manualSeed(seed: number): void { defaultGenerator.manualSeed(seed); }

export interface RandomOptions extends CreateOptions { generator?: Generator }

/** Uniform in [0, 1). */
export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'rand');
  const backend = opts.backend ?? getBackend(), n = sizeOf(shape);
  const { key, counter } = (opts.generator ?? defaultGenerator).take(n);
  const t = wrap(backend, backend.random(n, 'uniform', key, counter), shape);
  return opts.requiresGrad ? t.requiresGrad_(true) : t;
}

/** Standard normal. */
export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'randn');
  const backend = opts.backend ?? getBackend(), n = sizeOf(shape);
  // Each normal consumes two counters (Box-Muller) starting at an even one.
  const { key, counter } = (opts.generator ?? defaultGenerator).take(2 * n + 1);
  const t = wrap(backend, backend.random(n, 'normal', key, Math.ceil(counter / 2)), shape);
  return opts.requiresGrad ? t.requiresGrad_(true) : t;
}

/** Integers uniform in [low, high), int32. */
export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  if (!(high > low)) throw new RangeError(`randint: high (${high}) must exceed low (${low})`);
  const u = rand(shape, opts);
  return astype(add(mul(u, high - low), low), 'int32');
}

/** Zeroes each element with probability p and scales the rest by 1/(1-p); identity when not training. */
export function dropout(x: Tensor, p: number, training = true, generator?: Generator): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  if (p === 1) return mul(x, 0);
  const keepMask = ge(rand(x.shape, { backend: x.backend, ...(generator ? { generator } : {}) }), p);
  return div(where(keepMask, x, 0), 1 - p);
}
