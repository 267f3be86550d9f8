// Shared checks for the model golden tests (dit, qwen2, siglip, vae): loading a fixture's
// parameters as a state dict, per-tensor and elementwise tolerances, and a record of the worst
// error ratio per fixture so test output says how close each model is, not just that it passed.
import { keep, type Backend, type Tensor } from '../../packages/core/src/index.ts';
import type { Fixture } from './golden.ts';
import { elementError, maxAbsFinite } from './close.ts';

/** Every `param.<key>` of the fixture as a tensor keyed by `<key>` (prefix removed). */
export function fixtureStateDict(fx: Fixture, backend: Backend, stripPrefix = ''): Map<string, Tensor> {
  const sd = new Map<string, Tensor>();
  for (const name of fx.file.names()) {
    if (!name.startsWith('param.')) continue;
    const key = name.slice('param.'.length);
    if (!key.startsWith(stripPrefix)) continue;
    sd.set(key.slice(stripPrefix.length), fx.tensor(name, backend));
  }
  return sd;
}

export interface Check {
  /** Bound: max|got-ref| <= rel * max|ref| + abs (per tensor). */
  rel?: number;
  abs?: number;
  /** Elementwise bound instead: |got-ref| <= absElem + relElem * |ref| for every element. */
  absElem?: number;
  relElem?: number;
}

/** Collects failures and the worst error ratio (error / bound, <= 1 passes) over many tensors. */
export class Checker {
  readonly failures: string[] = [];
  worst = { ratio: 0, what: '' };
  /** The worst ratio among outputs and among gradients separately, for the summary line. */
  readonly worstBy = new Map<'outputs' | 'grads', { ratio: number; what: string }>();
  constructor(readonly label: string) {}

  compare(got: ArrayLike<number>, ref: ArrayLike<number>, what: string, check: Check): void {
    if (got.length !== ref.length) { this.failures.push(`${what}: ${got.length} elements, reference has ${ref.length}`); return; }
    // elementError makes a NaN (either side) or an unmatched infinity an infinite error, so the
    // worst ratio can never be NaN and a NaN anywhere fails.
    const maxRef = maxAbsFinite(ref);
    const elementwise = check.relElem !== undefined || check.absElem !== undefined;
    let ratio = 0, at = 0;
    for (let i = 0; i < ref.length; i++) {
      const e = elementError(got[i]!, ref[i]!);
      const bound = elementwise
        ? (check.absElem ?? 0) + (check.relElem ?? 0) * (Number.isFinite(ref[i]!) ? Math.abs(ref[i]!) : 0)
        : (check.rel ?? 0) * maxRef + (check.abs ?? 0);
      const r = e === 0 ? 0 : bound > 0 ? e / bound : Infinity;
      if (r > ratio) { ratio = r; at = i; }
    }
    if (ratio > this.worst.ratio) this.worst = { ratio, what };
    const kind = what.startsWith('grad.') ? 'grads' : 'outputs';
    if (ratio > (this.worstBy.get(kind)?.ratio ?? -1)) this.worstBy.set(kind, { ratio, what });
    if (ratio > 1) {
      this.failures.push(`${what}: error/bound ${ratio.toExponential(3)} at [${at}] (got ${got[at]}, ref ${ref[at]}, max|ref| ${maxRef.toExponential(3)})`);
    }
  }

  private readonly pending: { got: Tensor; ref: string; check: Check; refShape?: number[]; refData?: Float32Array }[] = [];

  /**
   * Queues a comparison of got with the fixture tensor ref. got is kept out of tidy scopes,
   * because backends without synchronous reads (WebGPU) are read after the scope closes.
   * refShape overrides the stored shape (e.g. [] for a loss stored as [1]); refData compares
   * against part of a stored tensor instead.
   */
  expect(got: Tensor, ref: string, check: Check, refShape?: number[], refData?: Float32Array): void {
    this.pending.push({ got: keep(got), ref, check, ...(refShape ? { refShape } : {}), ...(refData ? { refData } : {}) });
  }

  /** Reads every queued tensor, compares it (shape, then values), and disposes it. */
  async flush(fx: Fixture): Promise<void> {
    for (const { got, ref, check, refShape, refData } of this.pending.splice(0)) {
      const want = refShape ?? fx.shape(ref);
      if (got.shape.join() !== want.join()) this.failures.push(`${ref}: shape [${got.shape.join(', ')}], reference [${want.join(', ')}]`);
      else if (got.dtype === 'int32') {
        const a = Array.from(await got.data()), b = Array.from(fx.file.readInt32(ref));
        if (a.join() !== b.join()) this.failures.push(`${ref}: got [${a.join(', ')}], reference [${b.join(', ')}]`);
      } else this.compare(await got.data(), refData ?? fx.f32(ref), ref, check);
      got.dispose();
    }
  }

  summary(): string {
    const parts = [...this.worstBy].map(([k, w]) => `${k} ${w.ratio.toExponential(2)} (${w.what})`);
    return `${this.label}: worst error/bound ${parts.join(', ')}`;
  }
}
