// Access to the PyTorch reference fixtures. The folder is $RECONVLA_GOLDEN_DIR, or the
// repository's committed golden/ (written by `npm run golden` with the PyTorch twin in python/).
// Tests run every fixture they find there and read every size from the files, so other fixture
// sets (other sizes, other seeds, e.g. the upstream-generated ../shared/golden) run unchanged.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '../../packages/core/src/safetensors/index.ts';
import { Tensor, tensor, type Backend } from '../../packages/core/src/index.ts';
import { elementError, maxAbsFinite } from './close.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function goldenDir(): string {
  return process.env.RECONVLA_GOLDEN_DIR ? path.resolve(process.env.RECONVLA_GOLDEN_DIR) : path.join(repoRoot, 'golden');
}

/**
 * Under CI=true the checks that need fixtures or a WebGPU adapter must run: a missing one fails
 * the run, with the reason. Locally it is a visible skip (test/ci_requirements.test.ts checks
 * everything at once; skipOrFail and findFixtures do it where a test meets the gap).
 */
export const requireEverything = ['true', '1'].includes(process.env.CI ?? '');

/** Skips the test with its reason, or under CI=true fails it with that reason. */
export function skipOrFail(t: TestContext, reason: string): void {
  if (requireEverything) throw new Error(`CI=true and ${reason}: a CI run must not skip this check`);
  t.skip(reason);
}

/** The fixture kinds of golden/README.md, by file-name prefix; every test reads one. */
export const FIXTURE_KINDS: readonly RegExp[] = [/^ops/, /^dtypes/, /^qwen2/, /^siglip/, /^vae/, /^dit/, /^diffusion_schedule/, /^reconvla/];

/**
 * Fixture files in the golden folder whose name (without extension) matches the pattern.
 * None found is an empty list locally (the tests then skip, saying so) and an error under
 * CI=true, which fails the test file that asked, naming the folder and the pattern.
 */
export function findFixtures(pattern: RegExp): string[] {
  const dir = goldenDir();
  const found = !fs.existsSync(dir) ? [] : fs.readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors') && pattern.test(f.replace(/\.safetensors$/, ''))).sort()
    .map((f) => path.join(dir, f));
  if (found.length === 0 && requireEverything) {
    throw new Error(`CI=true and no ${pattern} .safetensors fixture in ${dir}${fs.existsSync(dir) ? '' : ' (the folder does not exist)'}; set RECONVLA_GOLDEN_DIR`);
  }
  return found;
}

/** A fixture file with typed accessors that create tensors on a backend. */
export class Fixture {
  readonly file: SafetensorsFile;
  constructor(readonly path: string) { this.file = SafetensorsFile.open(path); }
  get name(): string { return path.basename(this.path, '.safetensors'); }
  meta<T = unknown>(key: string): T {
    const v = this.file.metadata[key];
    if (v === undefined) throw new Error(`${this.path}: __metadata__ has no "${key}"`);
    return JSON.parse(v) as T;
  }
  /** The model config: the sidecar <name>.json when there is one, else __metadata__.config. */
  config<T = unknown>(): T {
    const json = this.path.replace(/\.safetensors$/, '.json');
    return fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) as T : this.meta<T>('config');
  }
  has(name: string): boolean { return this.file.has(name); }
  shape(name: string): number[] { return [...this.file.info(name).shape]; }
  f32(name: string): Float32Array { return this.file.readFloat32(name); }
  /** A float tensor (or int32 for integer dtypes) on the backend. */
  tensor(name: string, backend: Backend, requiresGrad = false): Tensor {
    const info = this.file.info(name);
    const isInt = info.dtype.startsWith('I') || info.dtype.startsWith('U') || info.dtype === 'BOOL';
    const data = isInt ? this.file.readInt32(name) : this.file.readFloat32(name);
    return tensor(data, info.shape, { backend, dtype: isInt ? 'int32' : 'float32', requiresGrad });
  }
  close(): void { this.file.close(); }
}

export interface Tolerance { /** max|got-ref| <= rel * max|ref| + abs */ rel: number; abs?: number }

/**
 * max |got - ref| relative to max |ref|, with a message naming the tensor and the worst element.
 * A NaN on either side, or an infinity that the other side does not equal, fails.
 */
export function compareArrays(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance, what: string): string | null {
  if (got.length !== ref.length) return `${what}: ${got.length} elements, reference has ${ref.length}`;
  const maxRef = maxAbsFinite(ref);
  let maxErr = 0, at = -1;
  for (let i = 0; i < ref.length; i++) {
    const e = elementError(got[i]!, ref[i]!);
    if (e > maxErr) { maxErr = e; at = i; }
  }
  const bound = tol.rel * maxRef + (tol.abs ?? 0);
  if (maxErr <= bound) return null;
  return `${what}: max |got - ref| = ${maxErr.toExponential(3)} at [${at}] (got ${got[at]}, ref ${ref[at]}), bound ${bound.toExponential(3)} (max|ref| ${maxRef.toExponential(3)})`;
}
