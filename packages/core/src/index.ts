// @reconvla/core: tensors with reverse-mode autograd, backends, nn modules, optimizers, safetensors.
export type { Backend, BackendInfo, DType, HostArray, MatmulActivation, Storage } from './backend.ts';
export { dtypeBytes } from './backend.ts';
export { Tensor } from './tensor.ts';
export { getBackend, setBackend, noGrad, isGradEnabled, tidy, keep } from './engine.ts';
export { grad, valueAndGrad } from './autograd.ts';
export * from './ops/index.ts';
export * as F from './ops/index.ts';
export { createCpuBackend, CpuBackend } from './backends/cpu/index.ts';
export { createWasmBackend, describeWasm, WasmBackend, WasmOutOfMemoryError } from './backends/wasm/index.ts';
export { createMetaBackend, isMetaBackend, MetaBackend, MetaTensorError } from './backends/meta/index.ts';
export { describeBackends, createBackend, useBackend, backendFromEnv, type BackendDescription, type BackendChoice, type BackendName, type UseBackendOptions } from './backends/registry.ts';
export * as nn from './nn/index.ts';
export { Module, ModuleList, StateDictError } from './nn/index.ts';
export { openCheckpoint, SafetensorsFile, type TensorSource } from './safetensors/index.ts';
export * from './safetensors/index.ts';
export * from './half.ts';
export { fromSafetensors, saveSafetensors, type LoadOptions, type SaveOptions } from './tensor_io.ts';
export * as optim from './optim/index.ts';
