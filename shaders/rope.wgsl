// Rotary position embedding, rotate_half form, over the last axis of x [B, H, T, D] with
// cos/sin [B, T, D]:   y = x * cos + rotate_half(x) * sin,  rotate_half(x) = [-x2, x1].
// inverse applies the transpose, y = x * cos + rotate_half^T(x * sin), which is the gradient.

// Over the binding limit the host splits x into row ranges: this dispatch covers the elements
// [r0 * d, r0 * d + count), and each binding's window starts at element *_base.
struct Params {
  b: u32, h: u32, t: u32, d: u32,
  inverse: u32, r0: u32, count: u32, x_base: u32,
  cos_base: u32, sin_base: u32, y_base: u32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_: array<f32>;
@group(0) @binding(3) var<storage, read> sin_: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override WG: u32 = 256u;

fn xv(i: u32) -> f32 { return x[i - p.x_base]; }
fn cosv(i: u32) -> f32 { return cos_[i - p.cos_base]; }
fn sinv(i: u32) -> f32 { return sin_[i - p.sin_base]; }

@compute @workgroup_size(WG)
fn rope(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let local = gid.x + gid.y * nwg.x * WG;
  if (local >= p.count) { return; }
  let idx = p.r0 * p.d + local;
  let e = idx % p.d;
  let ti = (idx / p.d) % p.t;
  let bi = idx / (p.d * p.t * p.h);
  let cs = (bi * p.t + ti) * p.d;   // row of cos/sin
  let row = idx - e;
  let half = p.d / 2u;
  var rot: f32;
  if (p.inverse == 0u) {
    rot = select(xv(row + e - half), -xv(row + e + half), e < half) * sinv(cs + e);
  } else {
    rot = select(-xv(row + e - half) * sinv(cs + e - half), xv(row + e + half) * sinv(cs + e + half), e < half);
  }
  y[idx - p.y_base] = xv(idx) * cosv(cs + e) + rot;
}
