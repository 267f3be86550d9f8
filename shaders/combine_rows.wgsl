// Per-row linear combination of up to three [rows, cols] tensors with per-row coefficients:
//   out[r, c] = a[r] x0[r, c] + b[r] x1[r, c] + e[r] x2[r, c]
// q_sample and each DDPM/DDIM update of a latent batch are one dispatch of this kernel.
// Unused slots are bound to slot 0 and skipped through p.k.

struct Params { rows: u32, cols: u32, k: u32, _p0: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x0: array<f32>;
@group(0) @binding(2) var<storage, read> x1: array<f32>;
@group(0) @binding(3) var<storage, read> x2: array<f32>;
@group(0) @binding(4) var<storage, read> c0: array<f32>;
@group(0) @binding(5) var<storage, read> c1: array<f32>;
@group(0) @binding(6) var<storage, read> c2: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn combine_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.rows * p.cols) { return; }
  let r = i / p.cols;
  var acc = c0[r] * x0[i];
  if (p.k > 1u) { acc += c1[r] * x1[i]; }
  if (p.k > 2u) { acc += c2[r] * x2[i]; }
  y[i] = acc;
}
