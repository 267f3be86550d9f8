// Strided copies between a contiguous buffer and a strided view (rank <= 8, strides may be
// 0 or negative). Elements are copied as raw 32-bit words, so one kernel serves f32 and i32.
// When the view's innermost dim is contiguous and every offset and outer stride is a multiple
// of 4 (permutes that keep the last dim: head split/merge), the host specialises W = vec4u and
// VEC = 4: an invocation copies 4 words at once (lavapipe pays a per-lane loop for every
// storage access, so this halves the cost).

struct Params {
  // n: invocations (elements / VEC). lin: element of the contiguous side (dst of gather, src of
  // scatter) for i = 0, so a split dispatch can write a window of it; offset is relative to the
  // strided side's window.
  n: u32, offset: i32, lin: u32, rank: u32,
  shape: array<vec4u, 2>,
  strides: array<vec4i, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
alias W = u32;   // the unit copied: u32, or vec4u with VEC = 4
const VEC = 1u;

@group(0) @binding(1) var<storage, read> src: array<W>;
@group(0) @binding(2) var<storage, read_write> dst: array<W>;

override WG: u32 = 256u;

// Position in the strided view of the i-th element in row-major order over shape. Only the
// `rank` innermost dims are walked (the host dropped size-1 dims and merged contiguous ones);
// the outermost of them is what is left (i < n), so it needs no division. The loop has a
// constant trip count, so it unrolls and every p.shape/p.strides index is a constant (on
// lavapipe an index that is a loop counter is a per-lane gather, and u32 division is scalar).
fn view_index(i: u32) -> u32 {
  var rem = i;
  var at = p.offset;
  let outer = 8i - i32(p.rank);
  for (var d = 7i; d >= 0i; d--) {
    if (d > outer) {
      let dim = p.shape[d / 4][d % 4];
      at += i32(rem % dim) * p.strides[d / 4][d % 4];
      rem = rem / dim;
    } else if (d == outer) {
      at += i32(rem) * p.strides[d / 4][d % 4];
    }
  }
  return u32(at);
}

@compute @workgroup_size(WG)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let e = i * VEC;
  dst[(p.lin + e) / VEC] = src[view_index(e) / VEC];
}

@compute @workgroup_size(WG)
fn scatter(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let e = i * VEC;
  dst[view_index(e) / VEC] = src[(p.lin + e) / VEC];
}
