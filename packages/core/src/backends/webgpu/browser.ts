// The WebGPU backend on a browser's own WebGPU (navigator.gpu): the same runtime and kernels as
// in Node, where Node gets its device through Dawn (device.ts) and the page gets it here. The
// adapter's real limits are requested, as in Node.
import { WebGPUBackend, type WebGPUBackendOptions } from './backend.ts';
import type { AcquiredDevice } from './device.ts';
import { WebGPURuntime } from './runtime.ts';

const RAISED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize',
] as const;

/** What the page shows about its adapter (GPUAdapterInfo's fields as plain strings). */
export function browserAdapterInfo(adapter: GPUAdapter): Record<string, string> {
  const i = adapter.info;
  return {
    backend: 'browser', vendor: i.vendor || '?', architecture: i.architecture || '?', device: i.device || '?', description: i.description || '?',
    isFallbackAdapter: String((i as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false),
    maxStorageBufferBindingSize: String(adapter.limits.maxStorageBufferBindingSize),
    features: [...adapter.features].sort().join(','),
  };
}

/**
 * A WebGPU backend on navigator.gpu (or another GPU object). Throws, naming the reason, when the
 * page has no WebGPU or no adapter (e.g. Chromium without --enable-unsafe-webgpu on Linux).
 */
export async function createBrowserWebGPUBackend(opts: Pick<WebGPUBackendOptions, 'fuseElementwise' | 'shaderF16'> & { gpu?: GPU } = {}): Promise<WebGPUBackend> {
  const gpu = opts.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error('createBrowserWebGPUBackend: this page has no navigator.gpu (WebGPU needs a secure context such as http://127.0.0.1, and on Linux Chromium --enable-unsafe-webgpu)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('createBrowserWebGPUBackend: navigator.gpu.requestAdapter() returned null (no WebGPU adapter)');
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) requiredLimits[k] = adapter.limits[k];
  const hasF16 = adapter.features.has('shader-f16') && opts.shaderF16 !== false;
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures: hasF16 ? ['shader-f16'] : [], label: 'reconvla' });
  const acquired: AcquiredDevice = {
    // `backend` names Dawn's API in Node; the browser does not say which it uses, and nothing but
    // info (backend: 'browser') reads it.
    device, adapter, gpu, backend: 'vulkan', info: browserAdapterInfo(adapter),
    maxBinding: device.limits.maxStorageBufferBindingSize, hasF16, timestamps: false, profile: false,
  };
  const rt = new WebGPURuntime(acquired);
  rt.rowKernels = 'auto';
  return new WebGPUBackend(rt, opts);
}
