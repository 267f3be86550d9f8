// Per-row linear combination of up to three [rows, cols] tensors with per-row coefficients:
//   out[r, c] = a[r] x0[r, c] + b[r] x1[r, c] + e[r] x2[r, c]
// q_sample and each DDPM/DDIM update of a latent batch are one dispatch of this kernel.
// Unused slots are bound to slot 0 and skipped through p.k.

// Over the binding limit the host splits into row ranges: rows [r0, r0 + rows), each binding's
// window starting at element *_base (x0..x2, c0..c2, y).
struct Params {
  rows: u32, cols: u32, k: u32, r0: u32,
  xb0: u32, xb1: u32, xb2: u32, cb0: u32,
  cb1: u32, cb2: u32, yb: u32, _p0: u32,
}

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
  let local = gid.x + gid.y * nwg.x * WG;
  if (local >= p.rows * p.cols) { return; }
  let i = p.r0 * p.cols + local;
  let r = i / p.cols;
  var acc = c0[r - p.cb0] * x0[i - p.xb0];
  if (p.k > 1u) { acc += c1[r - p.cb1] * x1[i - p.xb1]; }
  if (p.k > 2u) { acc += c2[r - p.cb2] * x2[i - p.xb2]; }
  y[i - p.yb] = acc;
}
