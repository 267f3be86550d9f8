// Every bench case checks its output once, before it is timed, against the reference math:
// the CPU reference backend where it is fast enough, else sampled entries computed on the host
// in float64 from the same inputs (a matmul of 2048^3 or a conv of 2.4 GFLOP in the JS
// reference would take minutes; 256 sampled entries of the real output catch a wrong kernel).
// A failed check throws: the bench never reports a time for a wrong result.
import { isClose } from '../test/helpers/close.ts';

export class BenchCheckError extends Error {}

/** Deterministic inputs in [-1, 1) that are not all equal (an all-ones matmul hides index bugs). */
export function randomInput(n: number, seed: number): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = s / 2147483648 - 1; }
  return out;
}

/** Throws unless got[i] is close to want[i] for every i (NaN never passes). */
export function checkClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): void {
  if (got.length !== want.length) throw new BenchCheckError(`${what}: ${got.length} values, the reference has ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (!isClose(got[i]!, want[i]!, atol, rtol)) throw new BenchCheckError(`${what}: element ${i}: ${got[i]} vs reference ${want[i]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Up to `count` distinct indices in [0, n), spread deterministically (first and last included). */
export function sampleIndices(n: number, count = 256): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  const out = new Set<number>([0, n - 1]);
  let s = 12345;
  while (out.size < count) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out.add(s % n); }
  return [...out];
}

export interface MatmulLayout { m: number; k: number; n: number; transA?: boolean; transB?: boolean }

/** C[i, j] in float64 from host copies of A and B (their stored layouts). */
export function matmulEntry(a: Float32Array, b: Float32Array, l: MatmulLayout, i: number, j: number): number {
  let s = 0;
  for (let p = 0; p < l.k; p++) s += a[l.transA ? p * l.m + i : i * l.k + p]! * b[l.transB ? j * l.k + p : p * l.n + j]!;
  return s;
}

/** Checks sampled entries of a matmul result c (row-major [m, n]); `epilogue` maps the sum. */
export function checkMatmulSample(what: string, c: ArrayLike<number>, a: Float32Array, b: Float32Array, l: MatmulLayout,
  epilogue: (sum: number, j: number) => number = (v) => v, rtol = 1e-4): void {
  const idx = sampleIndices(l.m * l.n);
  const got = idx.map((e) => c[e]!);
  const want = idx.map((e) => epilogue(matmulEntry(a, b, l, Math.floor(e / l.n), e % l.n), e % l.n));
  // The sum's error grows with k: scale the absolute tolerance by sqrt(k) x the operands' size.
  checkClose(`${what} (${idx.length} sampled entries vs float64 on the host)`, got, want, 1e-5 * Math.sqrt(l.k), rtol);
}

export const geluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
