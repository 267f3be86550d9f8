// Is a WebGPU adapter a CPU emulation? lavapipe (llvmpipe), SwiftShader and WARP run shaders on
// the processor at a few percent of its peak; there the wasm backend is the faster choice.

/** The parts of a GPUAdapter (or its info) that tell an emulation apart. */
export interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
}

const EMULATED = /llvmpipe|lavapipe|swiftshader|software rasterizer|microsoft basic render|\bwarp\b/i;

export function isCpuEmulatedAdapter(adapter: AdapterLike): boolean {
  if (adapter.isFallbackAdapter) return true;
  const i = adapter.info;
  if (!i) return false;
  return EMULATED.test([i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' '));
}
