// Typings for the part of the WebAssembly JS API this backend uses. The project compiles
// without lib.dom (where TypeScript declares WebAssembly), so the global is typed here, locally,
// instead of declaring a global that could clash with another package's lib settings.

export interface WasmMemory { readonly buffer: SharedArrayBuffer; grow(deltaPages: number): number }
export interface WasmModule { readonly __wasmModule?: never }
export interface WasmInstance { readonly exports: Record<string, unknown> }

interface WebAssemblyApi {
  Memory: new (desc: { initial: number; maximum: number; shared: true }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}

export const WA = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
