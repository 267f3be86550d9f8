// Indexing over an [outer, len, inner] view: index_select / index_add (its transpose), and
// take_along (torch.gather) / take_along_grad. The adds need no float atomics: one invocation
// owns a whole (o, i) column of the output and adds the contributions in order j = 0, 1, ...,
// which is also the CPU reference's summation order.

struct Params {
  outer: u32, len: u32, inner: u32, nids: u32,
  // Windows of the [outer * len, inner] table (x of index_select, acc of index_add): only its
  // flattened rows o * len + r in [row_lo, row_hi) are touched; src's window starts at x_base.
  row_lo: u32, row_hi: u32, x_base: u32, _pad: u32,
  // take_along(+grad) and index_add_columns split over outer: slices [o0, o0 + outer);
  // ids/dst (acc)/g windows start at elements ib/ob/gb.
  o0: u32, ib: u32, ob: u32, gb: u32,
  // index_select: output elements [e0, e0 + count); index_add_columns: only g's flattened rows
  // o * nids + j in [g_lo, g_hi) are read.
  e0: u32, count: u32, g_lo: u32, g_hi: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;      // x or g, as raw 32-bit words
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> acc: array<f32>;

override WG: u32 = 256u;
// index_select: 1 when x is a float16 table (packed halves, x_base in halves and even), read into
// float32 rows with unpack2x16float (core WGSL: no shader-f16 needed).
override HALF: u32 = 0u;

fn flat_id(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// out[o, j, i] = x[o, ids[j], i]; ids outside [0, len) give 0. Each dispatch writes the outputs
// [e0, e0 + count) whose row o * len + ids[j] falls in the window [row_lo, row_hi); an out-of-range
// id is zeroed by the window holding row o * len (each slice's first row is in exactly one).
@compute @workgroup_size(WG)
fn index_select(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.count) { return; }
  let e = p.e0 + t;
  let i = e % p.inner;
  let j = (e / p.inner) % p.nids;
  let o = e / (p.inner * p.nids);
  let id = ids[j];
  if (id < 0 || u32(id) >= p.len) {
    if (o * p.len >= p.row_lo && o * p.len < p.row_hi) { dst[e - p.ob] = 0u; }
    return;
  }
  let r = o * p.len + u32(id);
  if (r < p.row_lo || r >= p.row_hi) { return; }
  let s = r * p.inner + i - p.x_base;
  if (HALF != 0u) { dst[e - p.ob] = bitcast<u32>(unpack2x16float(src[s / 2u])[s % 2u]); } else { dst[e - p.ob] = src[s]; }
}

// acc (zero-filled [outer, len, inner]) [o, ids[j], i] += g[o, j, i], one invocation per (o, i)
// of slices [o0, o0 + outer). Split dispatches add only the g rows [g_lo, g_hi) into the acc rows
// [row_lo, row_hi); run in increasing g_lo, every element still sums in order j = 0, 1, ...
@compute @workgroup_size(WG)
fn index_add_columns(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.outer * p.inner) { return; }
  let i = t % p.inner;
  let o = p.o0 + t / p.inner;
  let g0 = o * p.nids;
  let jlo = max(p.g_lo, g0) - g0;
  let jhi = max(min(p.g_hi, g0 + p.nids), g0) - g0;
  for (var j = jlo; j < jhi; j++) {
    let id = ids[j];
    if (id < 0 || u32(id) >= p.len) { continue; }
    let r = o * p.len + u32(id);
    if (r < p.row_lo || r >= p.row_hi) { continue; }
    acc[r * p.inner + i - p.ob] += g[(g0 + j) * p.inner + i - p.gb];
  }
}

// The same sum computed per output element (more parallel when outer * inner is tiny):
// acc[o, r, i] = sum over j with ids[j] == r of g[o, j, i]. Writes every element.
@compute @workgroup_size(WG)
fn index_add_elements(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.outer * p.len * p.inner) { return; }
  let i = t % p.inner;
  let r = (t / p.inner) % p.len;
  let o = t / (p.inner * p.len);
  var s = 0.0;
  for (var j = 0u; j < p.nids; j++) {
    if (ids[j] == i32(r)) { s += g[(o * p.nids + j) * p.inner + i]; }
  }
  acc[t] = s;
}

// take_along: x [outer, len, inner], idx [outer, k, inner] (k = nids); out[o,j,i] = x[o, idx[o,j,i], i].
@compute @workgroup_size(WG)
fn take_along(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.outer * p.nids * p.inner) { return; }
  let i = t % p.inner;
  let o = p.o0 + t / (p.inner * p.nids);
  let gt = p.o0 * p.nids * p.inner + t;
  let id = ids[gt - p.ib];
  if (id < 0 || u32(id) >= p.len) { dst[gt - p.ob] = 0u; return; }
  dst[gt - p.ob] = src[(o * p.len + u32(id)) * p.inner + i - p.x_base];
}

// acc (zero-filled [outer, len, inner]) [o, idx[o,j,i], i] += g[o, j, i], one invocation per (o, i).
@compute @workgroup_size(WG)
fn take_along_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.outer * p.inner) { return; }
  let i = t % p.inner;
  let o = p.o0 + t / p.inner;
  for (var j = 0u; j < p.nids; j++) {
    let id = ids[(o * p.nids + j) * p.inner + i - p.ib];
    if (id < 0 || u32(id) >= p.len) { continue; }
    acc[(o * p.len + u32(id)) * p.inner + i - p.ob] += g[(o * p.nids + j) * p.inner + i - p.gb];
  }
}
