// Acquiring a WebGPU device through Dawn (the `webgpu` npm package, dawn.node).
//
// Order: Dawn on Vulkan (real GPUs, or Mesa lavapipe on a CPU-only machine), then Dawn on
// OpenGL in compatibility mode (plain Mesa llvmpipe through EGL surfaceless). We request the
// adapter's real limits: WebGPU's defaults (128 MiB bindings, 16 KiB workgroup memory) are
// far below what a GPU offers and would force needless chunking.
import { mkdirSync } from 'node:fs';
import { create, globals } from 'webgpu';

export interface AcquireOptions {
  /** Force one backend instead of trying Vulkan then OpenGL. */
  backend?: 'vulkan' | 'opengl';
  /** Lower the storage binding limit (to test the chunked paths for huge tensors). */
  maxStorageBufferBindingSize?: number;
  /** false: do not request `shader-f16` even when offered (tests the path without it). */
  shaderF16?: boolean;
  /** Time every dispatch on the GPU (timestamp queries, see profile.ts); default: RECONVLA_DEBUG
   * contains 'webgpu-profile'. Ignored where the adapter has no `timestamp-query`. */
  profile?: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  backend: 'vulkan' | 'opengl';
  /** The object create() returned. dawn.node crashes (SIGSEGV) if it is garbage-collected
   * while a device lives, so it is kept here, and AcquiredDevice is kept by the backend. */
  gpu: GPU;
  info: Record<string, string>;
  /** The binding limit kernels must respect (the device's, or the lowered test value). */
  maxBinding: number;
  hasF16: boolean;
  /** `timestamp-query` is enabled (the runtime's wait clock, or the profiler). */
  timestamps: boolean;
  /** Every dispatch is timed (profile.ts). */
  profile: boolean;
}

// Every GPU object create() ever returned, kept for the whole process (see `gpu` above).
const keepAlive: GPU[] = [];
let globalsInstalled = false;

function installGlobals(): void {
  // GPUBufferUsage, GPUMapMode, ... are needed as values; the browser has them as globals.
  if (globalsInstalled) return;
  Object.assign(globalThis, globals);
  globalsInstalled = true;
}

/** Runtime dir: Dawn's Vulkan loader wants a writable XDG_RUNTIME_DIR (containers often have none). */
function ensureRuntimeDir(): void {
  if (process.env.XDG_RUNTIME_DIR) return;
  const dir = `${process.env.TMPDIR ?? '/tmp'}/reconvla-xdg-${process.getuid?.() ?? 0}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

async function tryBackend(backend: 'vulkan' | 'opengl', profile: boolean): Promise<{ gpu: GPU; adapter: GPUAdapter } | { error: string }> {
  const flags = [`backend=${backend}`];
  // Dawn rounds timestamps (a timing-attack guard for browsers); a profile wants them whole.
  if (profile) flags.push('disable-dawn-features=timestamp_quantization');
  if (backend === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
  let gpu: GPU;
  try {
    gpu = create(flags);
  } catch (e) {
    return { error: `${backend}: ${(e as Error).message.split('\n')[0]}` };
  }
  keepAlive.push(gpu);
  try {
    const opts: GPURequestAdapterOptions & { featureLevel?: string } = { powerPreference: 'high-performance' };
    if (backend === 'opengl') opts.featureLevel = 'compatibility';
    const adapter = await gpu.requestAdapter(opts);
    if (!adapter) return { error: `${backend}: requestAdapter returned null` };
    return { gpu, adapter };
  } catch (e) {
    return { error: `${backend}: ${(e as Error).message.split('\n')[0]}` };
  }
}

function adapterInfo(adapter: GPUAdapter, backend: string): Record<string, string> {
  const i = adapter.info;
  const lim = adapter.limits;
  const feats = [...adapter.features].sort();
  const fallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    backend: `dawn-${backend}`,
    vendor: i.vendor || '?',
    architecture: i.architecture || '?',
    device: i.device || '?',
    description: i.description || '?',
    isFallbackAdapter: String(i.isFallbackAdapter ?? fallback ?? false),
    maxStorageBufferBindingSize: String(lim.maxStorageBufferBindingSize),
    maxBufferSize: String(lim.maxBufferSize),
    maxComputeWorkgroupStorageSize: String(lim.maxComputeWorkgroupStorageSize),
    maxComputeInvocationsPerWorkgroup: String(lim.maxComputeInvocationsPerWorkgroup),
    maxComputeWorkgroupsPerDimension: String(lim.maxComputeWorkgroupsPerDimension),
    maxStorageBuffersPerShaderStage: String(lim.maxStorageBuffersPerShaderStage),
    features: feats.join(','),
  };
}

/** The limits we raise from WebGPU's defaults to the adapter's values. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
] as const;

export async function acquireDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  ensureRuntimeDir();
  installGlobals();
  // RECONVLA_WEBGPU_BACKEND=vulkan|opengl forces one backend without code changes (tests, CI).
  const env = process.env.RECONVLA_WEBGPU_BACKEND;
  const forced = opts.backend ?? (env === 'vulkan' || env === 'opengl' ? env : undefined);
  const order: ('vulkan' | 'opengl')[] = forced ? [forced] : ['vulkan', 'opengl'];
  const errors: string[] = [];
  const profile = opts.profile ?? (process.env.RECONVLA_DEBUG ?? '').split(',').includes('webgpu-profile');
  for (const backend of order) {
    const got = await tryBackend(backend, profile);
    if ('error' in got) { errors.push(got.error); continue; }
    const { gpu, adapter } = got;
    const requiredLimits: Record<string, number> = {};
    for (const k of RAISED_LIMITS) requiredLimits[k] = adapter.limits[k];
    const hasF16 = adapter.features.has('shader-f16') && opts.shaderF16 !== false;
    const timestamps = adapter.features.has('timestamp-query');
    const requiredFeatures: GPUFeatureName[] = [...(hasF16 ? ['shader-f16' as const] : []), ...(timestamps ? ['timestamp-query' as const] : [])];
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'reconvla' });
    } catch (e) {
      errors.push(`${backend}: requestDevice failed: ${(e as Error).message}`);
      continue;
    }
    const info = adapterInfo(adapter, backend);
    const deviceMax = device.limits.maxStorageBufferBindingSize;
    const maxBinding = Math.min(deviceMax, opts.maxStorageBufferBindingSize ?? deviceMax);
    return { device, adapter, backend, gpu, info, maxBinding, hasF16, timestamps, profile: profile && timestamps };
  }
  throw new WebGPUUnavailableError(errors);
}

export class WebGPUUnavailableError extends Error {
  constructor(readonly attempts: string[]) {
    super(`no WebGPU adapter: ${attempts.join('; ')}. ${FIX}`);
    this.name = 'WebGPUUnavailableError';
  }
}

const FIX = 'Run `bash scripts/setup.sh` (installs libvulkan1 + mesa-vulkan-drivers >= 24 from bookworm-backports, '
  + 'i.e. Mesa lavapipe) and make sure XDG_RUNTIME_DIR points to a writable directory '
  + '(e.g. `mkdir -p /tmp/xdg && export XDG_RUNTIME_DIR=/tmp/xdg`).';

export interface WebGPUDescription {
  name: 'webgpu';
  available: boolean;
  summary?: string;
  details?: Record<string, string>;
  fix?: string;
}

/** For `reconvla doctor`: which adapter we would use, its limits and features, or why there is none. */
export async function describeWebGPU(opts: AcquireOptions = {}): Promise<WebGPUDescription> {
  try {
    const acq = await acquireDevice(opts);
    const d = acq.info;
    acq.device.destroy();
    const summary = `${d.description !== '?' ? d.description : d.device} (${d.vendor}/${d.architecture}) via ${d.backend}`
      + `${d.isFallbackAdapter === 'true' ? ', fallback adapter' : ''}, max binding ${mib(Number(d.maxStorageBufferBindingSize))}`;
    return { name: 'webgpu', available: true, summary, details: d };
  } catch (e) {
    const attempts = e instanceof WebGPUUnavailableError ? e.attempts : [(e as Error).message];
    return {
      name: 'webgpu', available: false, summary: `no adapter (${attempts.join('; ')})`,
      details: { attempts: attempts.join('; '), XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '(unset)' }, fix: FIX,
    };
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}
