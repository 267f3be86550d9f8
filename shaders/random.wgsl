// Counter-based random numbers, the same values as packages/core/src/random_bits.ts:
// element i depends only on (key, counter + i). PCG-RXS-M-XS hash applied twice, in u32
// arithmetic (wrapping multiply = Math.imul).

struct Params { n: u32, key: u32, counter: u32, normal: u32, start: u32, y_base: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

override WG: u32 = 256u;

fn pcg_hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn random_bits(key: u32, c: u32) -> u32 { return pcg_hash(pcg_hash(key) + c); }

// 24 bits: exactly representable, so uniform() matches the CPU bit for bit.
fn uniform_at(key: u32, c: u32) -> f32 { return f32(random_bits(key, c) >> 8u) * 5.9604644775390625e-8; }

// Box-Muller, cosine branch, on counters 2c and 2c + 1.
fn normal_at(key: u32, c: u32) -> f32 {
  let c2 = c * 2u;
  let u1 = f32((random_bits(key, c2) >> 8u) + 1u) * 5.9604644775390625e-8;
  let u2 = f32(random_bits(key, c2 + 1u) >> 8u) * 5.9604644775390625e-8;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

@compute @workgroup_size(WG)
fn random(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = p.start + i;
  let c = p.counter + g;
  y[g - p.y_base] = select(uniform_at(p.key, c), normal_at(p.key, c), p.normal != 0u);
}
