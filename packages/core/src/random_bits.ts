// Counter-based random numbers shared by every backend.
//
// Element i of a draw depends only on (key, counter + i), never on the order of evaluation,
// so the CPU loop, a WGSL kernel and a Wasm kernel produce the same values. The mixing
// function is the PCG-RXS-M-XS hash (O'Neill), applied twice; all arithmetic is on u32,
// which WGSL and Math.imul express identically.

/** One round of the PCG output permutation on a 32-bit word. */
export function pcgHash(x: number): number {
  const state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** 32 random bits for counter value c under key. */
export function randomBits(key: number, c: number): number {
  return pcgHash((pcgHash(key >>> 0) + (c >>> 0)) >>> 0);
}

/** Uniform in [0, 1) with 24 bits of precision (exactly representable in float32). */
export function uniformAt(key: number, c: number): number {
  return (randomBits(key, c) >>> 8) * 5.9604644775390625e-8;
}

/** Standard normal from Box-Muller on counters 2c and 2c+1 (cosine branch only, so each
 * element is independent of its neighbours). */
export function normalAt(key: number, c: number): number {
  const c2 = (c * 2) >>> 0;
  const u1 = ((randomBits(key, c2) >>> 8) + 1) * 5.9604644775390625e-8; // (0, 1]
  const u2 = (randomBits(key, (c2 + 1) >>> 0) >>> 8) * 5.9604644775390625e-8;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
