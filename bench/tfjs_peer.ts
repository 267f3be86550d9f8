// TensorFlow.js's WebGPU backend on the same Dawn adapter, as the peer for our kernels.
// tfjs-backend-webgpu looks for navigator.gpu when it is imported, so the global is set first.
// Each method sets up its inputs and returns one awaited run (result read back).
import { create } from 'webgpu';

export interface TfPeer {
  name: string;
  matmul(m: number, k: number, n: number): Promise<() => Promise<void>>;
  /** matMul(q, k^T) * scale + causal bias -> softmax -> matMul(p, v): TF.js has no fused attention. */
  attention(b: number, h: number, t: number, d: number): Promise<() => Promise<void>>;
  /** NHWC conv2d (TF.js's native layout) with 'same' padding for odd kernels. */
  conv2d(n: number, c: number, hw: number, o: number, k: number, stride: number): Promise<() => Promise<void>>;
  /** (x - mean) * rsqrt(var + eps) * gamma + beta over the last axis, from tf.moments. */
  layerNorm(rows: number, cols: number): Promise<() => Promise<void>>;
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
    const run = (f: () => InstanceType<typeof tf.Tensor>) => async () => {
      const y = f();
      await y.data();
      y.dispose();
    };
    const rand = (shape: number[]) => tf.randomUniform(shape, -1, 1);
    return {
      name: `tfjs-webgpu ${tf.version_core}`,
      async matmul(m, k, n) {
        const a = tf.ones([m, k]), b = tf.ones([k, n]);
        return run(() => tf.matMul(a, b));
      },
      async attention(b, h, t, d) {
        const q = rand([b, h, t, d]), k = rand([b, h, t, d]), v = rand([b, h, t, d]);
        const bias = tf.tidy(() => tf.mul(tf.sub(tf.linalg.bandPart(tf.ones([t, t]), -1, 0), 1), 1e9));
        return run(() => tf.tidy(() => tf.matMul(tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)), bias)), v)));
      },
      async conv2d(n, c, hw, o, k, stride) {
        const x = rand([n, hw, hw, c]), w = rand([k, k, c, o]);
        return run(() => tf.conv2d(x as never, w as never, stride, 'same'));
      },
      async layerNorm(rows, cols) {
        const x = rand([rows, cols]), g = rand([cols]), b = rand([cols]);
        return run(() => tf.tidy(() => {
          const { mean, variance } = tf.moments(x, -1, true);
          return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
        }));
      },
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
