// The WebGPU backend (Dawn through the `webgpu` package): entry points for the rest of the stack.
export { createWebGPUBackend, WebGPUBackend, type WebGPUBackendOptions } from './backend.ts';
export { describeWebGPU, WebGPUUnavailableError, type WebGPUDescription, type AcquireOptions } from './device.ts';
export type { MatmulTiling } from './ops/matmul.ts';
export type { AttentionTiling } from './ops/attention.ts';
export type { ConvTiling } from './ops/conv.ts';
