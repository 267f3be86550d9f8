// Parameter initialisation, as torch.nn.init and PyTorch's layer defaults do it. Every draw
// goes through a seeded Generator (the global one unless given), so a model built twice from
// the same seed has the same weights on every backend.
import type { Backend } from '../backend.ts';
import { noGrad, tidy } from '../engine.ts';
import { full } from '../ops/creation.ts';
import { add, mul } from '../ops/elementwise.ts';
import { defaultGenerator, rand, randn, type Generator } from '../ops/random.ts';
import { shapeStr } from '../shape.ts';
import type { Tensor } from '../tensor.ts';

/** Where new parameters live and which random stream fills them. */
export interface InitOptions { backend?: Backend; generator?: Generator }

function randomOpts(opts: InitOptions): { backend?: Backend; generator: Generator } {
  return { ...(opts.backend ? { backend: opts.backend } : {}), generator: opts.generator ?? defaultGenerator };
}

/** A new tensor uniform in [low, high). */
export function uniform(shape: readonly number[], low: number, high: number, opts: InitOptions = {}): Tensor {
  if (opts.backend?.name === 'meta') return rand(shape, randomOpts(opts)); // meta: shapes only, nothing to scale (same counters drawn)
  // tidy frees the intermediate draws; noGrad keeps the result a plain leaf.
  return tidy(() => noGrad(() => add(mul(rand(shape, randomOpts(opts)), high - low), low)));
}

/** A new tensor drawn from N(mean, std^2). */
export function normal(shape: readonly number[], mean = 0, std = 1, opts: InitOptions = {}): Tensor {
  return tidy(() => noGrad(() => {
    const z = randn(shape, randomOpts(opts));
    return mean === 0 && std === 1 ? z : add(mul(z, std), mean);
  }));
}

export function constant(shape: readonly number[], value: number, opts: InitOptions = {}): Tensor {
  return full(shape, value, opts.backend ? { backend: opts.backend } : {});
}

/**
 * torch.nn.init._calculate_fan_in_and_fan_out: for a weight [out, in, ...kernel],
 * fan_in = in * prod(kernel) and fan_out = out * prod(kernel).
 */
export function fanInAndFanOut(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`fanInAndFanOut: needs a weight of at least 2 dims, got ${shapeStr(shape)}`);
  const receptive = shape.slice(2).reduce((p, d) => p * d, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

/**
 * kaiming_uniform_(w, a) with fan_in mode and leaky_relu gain sqrt(2 / (1 + a^2)):
 * U(-b, b) with b = gain * sqrt(3 / fan_in). PyTorch's Linear and Conv use a = sqrt(5),
 * which makes b = 1 / sqrt(fan_in).
 */
export function kaimingUniform(shape: readonly number[], a = Math.sqrt(5), opts: InitOptions = {}): Tensor {
  const { fanIn } = fanInAndFanOut(shape);
  const bound = Math.sqrt(2 / (1 + a * a)) * Math.sqrt(3 / fanIn);
  return uniform(shape, -bound, bound, opts);
}

/** xavier_uniform_(w, gain): U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (e.g. MultiheadAttention's in_proj_weight). */
export function xavierUniform(shape: readonly number[], gain = 1, opts: InitOptions = {}): Tensor {
  const { fanIn, fanOut } = fanInAndFanOut(shape);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(shape, -bound, bound, opts);
}

/** The bias of PyTorch's Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (zeros when fan_in is 0). */
export function fanInUniform(shape: readonly number[], fanIn: number, opts: InitOptions = {}): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform(shape, -bound, bound, opts);
}

// In-place forms (torch.nn.init.uniform_ and friends): they replace a tensor's contents,
// keeping its identity, so they work on registered parameters.

export function uniform_(t: Tensor, low = 0, high = 1, generator?: Generator): Tensor {
  return refill(t, () => uniform(t.shape, low, high, { backend: t.backend, ...(generator ? { generator } : {}) }));
}
export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  return refill(t, () => normal(t.shape, mean, std, { backend: t.backend, ...(generator ? { generator } : {}) }));
}
export function constant_(t: Tensor, value: number): Tensor {
  return refill(t, () => constant(t.shape, value, { backend: t.backend }));
}
export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);
export function kaimingUniform_(t: Tensor, a = Math.sqrt(5), generator?: Generator): Tensor {
  return refill(t, () => kaimingUniform(t.shape, a, { backend: t.backend, ...(generator ? { generator } : {}) }));
}

export function xavierUniform_(t: Tensor, gain = 1, generator?: Generator): Tensor {
  return refill(t, () => xavierUniform(t.shape, gain, { backend: t.backend, ...(generator ? { generator } : {}) }));
}

function refill(t: Tensor, make: () => Tensor): Tensor {
  if (t.dtype !== 'float32') throw new TypeError(`init: expected a float32 tensor, got ${t.dtype} ${shapeStr(t.shape)}`);
  tidy(() => { t.assign(make()); });
  return t;
}
