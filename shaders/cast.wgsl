// Dtype conversion (float32 <-> int32), and fill with a constant bit pattern.

alias X = f32;
alias Y = i32;

struct Params { n: u32, x_base: u32, y_base: u32, start: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<X>;
@group(0) @binding(2) var<storage, read_write> y: array<Y>;
@group(0) @binding(3) var<storage, read_write> bits: array<u32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn convert(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = p.start + i;
  y[g - p.y_base] = Y(x[g - p.x_base]);
}

// Fill: x_base carries the value's 32 bits (float32 or int32 alike).
@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  bits[p.start + i - p.y_base] = p.x_base;
}
