// out = cond != 0 ? a : b, broadcasting all three over a rank-8 output shape (stride 0 = broadcast).

alias K = f32;  // element type of cond
alias T = f32;  // element type of a, b and out

struct Params {
  // Split over output ranges: invocation i is output element start + i; operands bound as
  // windows starting at elements cb/ab/bb/ob (0 when bound whole).
  n: u32, start: u32, cb: u32, ab: u32, ob: u32, bb: u32, _pad0: u32, _pad1: u32,
  shape: array<vec4u, 2>,
  c_strides: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cond: array<K>;
@group(0) @binding(2) var<storage, read> a: array<T>;
@group(0) @binding(3) var<storage, read> b: array<T>;
@group(0) @binding(4) var<storage, read_write> out: array<T>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn where_(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = p.start + i;
  var rem = g;
  var ci = 0u; var ai = 0u; var bi = 0u;
  for (var d = 7i; d >= 0; d--) {
    let dim = p.shape[d / 4][d % 4];
    let idx = rem % dim;
    rem = rem / dim;
    ci += idx * p.c_strides[d / 4][d % 4];
    ai += idx * p.a_strides[d / 4][d % 4];
    bi += idx * p.b_strides[d / 4][d % 4];
  }
  out[g - p.ob] = select(b[bi - p.bb], a[ai - p.ab], cond[ci - p.cb] != K(0));
}
