// Option parsers shared by the commands: each checks one flag's value and throws commander's
// InvalidArgumentError naming the flag, what it accepts and what it got.
import { InvalidArgumentError } from 'commander';
import { TASK_KINDS, parseEnvList, parseEnvName, type EnvName, type TaskKind } from '@reconvla/tabletop';

export type BackendFlag = 'cpu' | 'wasm' | 'webgpu' | 'auto';

export function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${v}".`);
    if (n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'an integer >= 0' : `in ${min}..inf`) : `in ${min}..${max}`;
      throw new InvalidArgumentError(`${name} must be ${range}, got ${n}.`);
    }
    return n;
  };
}

export function numArg(name: string, min: number, max: number): (v: string) => number {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}".`);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be in [${min}, ${max}], got ${n}.`);
    return n;
  };
}

/** A parser accepting one of `values`; the error lists them ("a, b or c"). */
export function choiceArg<T extends string>(name: string, values: readonly T[]): (v: string) => T {
  const list = `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  return (v: string): T => {
    if ((values as readonly string[]).includes(v)) return v as T;
    throw new InvalidArgumentError(`${name} must be ${list}, got "${v}".`);
  };
}

export const backendArg = choiceArg<BackendFlag>('backend', ['cpu', 'wasm', 'webgpu', 'auto']);

export function envArg(v: string): EnvName {
  try { return parseEnvName(v); } catch (e) { throw new InvalidArgumentError(`${(e as Error).message}.`); }
}

export function envListArg(v: string): EnvName[] {
  try { return parseEnvList(v); } catch (e) { throw new InvalidArgumentError(`${(e as Error).message}.`); }
}

/** "all" (every kind) or a comma-separated list of task kinds; an unknown one is named, with the valid ones. */
export function taskListArg(v: string): TaskKind[] {
  if (v.trim() === 'all') return [...TASK_KINDS];
  const parts = [...new Set(v.split(',').map((p) => p.trim()).filter((p) => p.length > 0))];
  if (parts.length === 0) throw new InvalidArgumentError('--tasks is empty: expected all or task kinds such as lift,stack.');
  for (const p of parts) {
    if (!(TASK_KINDS as readonly string[]).includes(p)) {
      throw new InvalidArgumentError(`unknown task "${p}" in --tasks: expected all or a comma-separated list of ${TASK_KINDS.join(', ')}.`);
    }
  }
  return parts as TaskKind[];
}
