// A storage of the wasm backend: a block of the shared heap (byte address and class size).
import type { DType, Storage } from '../../backend.ts';

export class WasmStorage implements Storage {
  readonly backend = 'wasm';
  freed = false;
  constructor(readonly dtype: DType, readonly size: number, readonly ptr: number, readonly cls: number) {}
}
