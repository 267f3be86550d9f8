// Global state of the tensor layer: the default backend, whether gradients are recorded,
// and the stack of memory scopes opened by tidy().
import type { Backend } from './backend.ts';
import { createCpuBackend } from './backends/cpu/index.ts';

/** What every Tensor needs from the engine without importing the Tensor class. */
export interface Disposable { dispose(): void; readonly isDisposed: boolean }

interface Scope { tracked: Set<Disposable> }

class Engine {
  backend: Backend = createCpuBackend();
  gradEnabled = true;
  readonly scopes: Scope[] = [];

  track(t: Disposable): void {
    const top = this.scopes[this.scopes.length - 1];
    if (top) top.tracked.add(t);
  }
  /** Removes t from every open scope, so tidy() will not dispose it. */
  untrack(t: Disposable): void {
    for (const s of this.scopes) s.tracked.delete(t);
  }
}

export const engine = new Engine();

/** The backend new tensors are created on. */
export function getBackend(): Backend { return engine.backend; }
export function setBackend(backend: Backend): void { engine.backend = backend; }

/** Runs fn without recording gradients. */
export function noGrad<T>(fn: () => T): T {
  const prev = engine.gradEnabled;
  engine.gradEnabled = false;
  try { return fn(); } finally { engine.gradEnabled = prev; }
}

export function isGradEnabled(): boolean { return engine.gradEnabled; }

/** Collects every Tensor reachable from a value returned by tidy(). */
function collectTensors(value: unknown, out: Set<Disposable>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('dispose' in value && 'isDisposed' in value) { out.add(value as Disposable); return; }
  if (Array.isArray(value)) { for (const v of value) collectTensors(v, out, seen); return; }
  if (value instanceof Map) { for (const v of value.values()) collectTensors(v, out, seen); return; }
  if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectTensors(v, out, seen);
}

/**
 * Runs fn and disposes every tensor created inside it, except those it returns (in a tensor,
 * array, Map or plain object) and those passed to keep(). Returned tensors move to the
 * enclosing scope. Async functions are not supported: a scope must close synchronously.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = { tracked: new Set() };
  engine.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    engine.scopes.pop();
    for (const t of scope.tracked) if (!t.isDisposed) t.dispose();
    throw err;
  }
  engine.scopes.pop();
  if (result instanceof Promise) throw new Error('tidy() got an async function; scopes must close synchronously');
  const keepSet = new Set<Disposable>();
  collectTensors(result, keepSet);
  for (const t of scope.tracked) {
    if (keepSet.has(t)) engine.track(t);
    else if (!t.isDisposed) t.dispose();
  }
  return result;
}

/** Exempts t from disposal by the enclosing tidy() scopes. */
export function keep<T extends Disposable>(t: T): T {
  engine.untrack(t);
  return t;
}
