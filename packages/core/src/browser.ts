// @reconvla/core/browser: what a web page needs beyond @reconvla/core, the WebGPU backend on the
// browser's navigator.gpu (Node gets its WebGPU through Dawn instead).
export { createBrowserWebGPUBackend, browserAdapterInfo } from './backends/webgpu/browser.ts';
export type { WebGPUBackend } from './backends/webgpu/backend.ts';
