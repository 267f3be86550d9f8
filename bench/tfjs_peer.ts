// TensorFlow.js's WebGPU backend on the same Dawn adapter, as the peer for our kernels.
// tfjs-backend-webgpu looks for navigator.gpu when it is imported, so the global is set first.
import { create } from 'webgpu';

export interface TfPeer {
  matmul(m: number, k: number, n: number): Promise<() => Promise<void>>;
  name: string;
}

// Kept for the whole process: dawn.node crashes if the create() object is collected.
let gpu: GPU | null = null;

export async function loadTfPeer(): Promise<TfPeer | { error: string }> {
  try {
    gpu = create(['backend=vulkan']);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return { error: 'tf.setBackend("webgpu") failed' };
    await tf.ready();
    return {
      name: `tfjs-webgpu ${tf.version_core}`,
      async matmul(m, k, n) {
        const a = tf.ones([m, k]), b = tf.ones([k, n]);
        return async () => {
          const c = tf.matMul(a, b);
          await c.data();
          c.dispose();
        };
      },
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
