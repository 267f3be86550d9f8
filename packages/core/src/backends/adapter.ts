// Is a WebGPU adapter a CPU emulation? lavapipe (llvmpipe), SwiftShader and WARP run shaders on
// the processor at a few percent of its peak: the backend registry then prefers the wasm backend,
// and the WebGPU runtime picks its CPU-shaped kernel mappings and first speed guess.

/** A GPUAdapter, its GPUAdapterInfo, or the WebGPU backend's info().details (strings). */
export interface AdapterLike {
  isFallbackAdapter?: boolean | string;
  vendor?: string; architecture?: string; device?: string; description?: string;
  info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string; device?: string; description?: string };
}

const EMULATED = /llvmpipe|lavapipe|swiftshader|software rasterizer|microsoft basic render|\bwarp\b/i;

export function isCpuEmulatedAdapter(adapter: AdapterLike): boolean {
  const fallback = adapter.isFallbackAdapter ?? adapter.info?.isFallbackAdapter;
  if (fallback === true || fallback === 'true') return true;
  const i = adapter.info ?? adapter;
  return EMULATED.test([i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' '));
}
