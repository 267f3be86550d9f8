// Rotary position embedding, rotate_half form, over the last axis of x [B, H, T, D] with
// cos/sin [B, T, D]:   y = x * cos + rotate_half(x) * sin,  rotate_half(x) = [-x2, x1].
// inverse applies the transpose, y = x * cos + rotate_half^T(x * sin), which is the gradient.

struct Params { b: u32, h: u32, t: u32, d: u32, inverse: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_: array<f32>;
@group(0) @binding(3) var<storage, read> sin_: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn rope(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.b * p.h * p.t * p.d) { return; }
  let e = idx % p.d;
  let ti = (idx / p.d) % p.t;
  let bi = idx / (p.d * p.t * p.h);
  let cs = (bi * p.t + ti) * p.d;   // row of cos/sin
  let row = idx - e;
  let half = p.d / 2u;
  var rot: f32;
  if (p.inverse == 0u) {
    rot = select(x[row + e - half], -x[row + e + half], e < half) * sin_[cs + e];
  } else {
    rot = select(-x[row + e - half] * sin_[cs + e - half], x[row + e + half] * sin_[cs + e + half], e < half);
  }
  y[idx] = x[idx] * cos_[cs + e] + rot;
}
