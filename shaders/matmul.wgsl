// prelude: activation
// Batched matmul C = A B (+ bias), register-tiled: each invocation computes a TM x TN block of C
// in registers, streaming A's column and B's row per k step (an outer-product update). On
// lavapipe this beats workgroup-memory tiling: its "threads" are SIMD lanes of a CPU core and
// the caches already do the tiling, while big register blocks cut loads per FMA.
//
// A and B are read through general strides, so one kernel covers transA/transB and the
// sub-blocks the host dispatches for tensors larger than one storage binding:
//   A(i, p) = a[a_off + batch * a_bs + i * sa_i + p * sa_p]
//   B(p, j) = b[b_off + batch * b_bs + p * sb_p + j * sb_j]
//   C(i, j) = c[c_off + batch * c_bs + i * ldc + j]
// Edge tiles clamp their load indices (reading valid memory) and mask the stores, so the
// inner loop has no branches.
// Epilogue: C = act(acc + bias (+ C)), act selected by the ACT override (activation.wgsl codes).
// When the host splits K, only the dispatch of the last K block sets ACT: it sees the full sum.

// Operand element types: f16 reads float16 storage natively (`enable f16;` is added with it);
// loads widen to f32, so accumulation stays f32 either way.
alias AT = f32;
alias BT = f32;

const TM = 4u;   // rows per invocation
const TN = 8u;   // columns per invocation (a multiple of 4: the accumulators are vec4)

override WGX: u32 = 8u;
override WGY: u32 = 8u;
override ACT: u32 = 0u; // ACT_NONE

struct Params {
  m: u32, n: u32, k: u32, ldc: u32,
  sa_i: u32, sa_p: u32, sb_p: u32, sb_j: u32,
  a_off: u32, b_off: u32, c_off: u32, flags: u32,   // flags: 1 = add bias, 2 = accumulate into C
  a_bs: u32, b_bs: u32, c_bs: u32, bias_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<AT>;
@group(0) @binding(2) var<storage, read> b: array<BT>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

const TN4 = TN / 4u;

@compute @workgroup_size(WGX, WGY)
fn matmul(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  if (row0 >= p.m || col0 >= p.n) { return; }
  let z = gid.z;

  var a_row: array<u32, TM>;
  for (var r = 0u; r < TM; r++) { a_row[r] = p.a_off + z * p.a_bs + min(row0 + r, p.m - 1u) * p.sa_i; }
  var b_col: array<u32, TN>;
  for (var q = 0u; q < TN; q++) { b_col[q] = p.b_off + z * p.b_bs + min(col0 + q, p.n - 1u) * p.sb_j; }

  var acc: array<vec4f, TM * TN4>;
  for (var kk = 0u; kk < p.k; kk++) {
    let ap = kk * p.sa_p;
    let bp = kk * p.sb_p;
    var bv: array<vec4f, TN4>;
    for (var q = 0u; q < TN4; q++) {
      bv[q] = vec4f(f32(b[b_col[4u * q] + bp]), f32(b[b_col[4u * q + 1u] + bp]), f32(b[b_col[4u * q + 2u] + bp]), f32(b[b_col[4u * q + 3u] + bp]));
    }
    for (var r = 0u; r < TM; r++) {
      let av = f32(a[a_row[r] + ap]);
      for (var q = 0u; q < TN4; q++) { acc[r * TN4 + q] = fma(vec4f(av), bv[q], acc[r * TN4 + q]); }
    }
  }

  for (var r = 0u; r < TM; r++) {
    let i = row0 + r;
    if (i >= p.m) { break; }
    for (var q = 0u; q < TN; q++) {
      let j = col0 + q;
      if (j >= p.n) { break; }
      let at = p.c_off + z * p.c_bs + i * p.ldc + j;
      var v = acc[r * TN4 + q / 4u][q % 4u];
      if ((p.flags & 1u) != 0u) { v += bias[p.bias_off + j]; }
      if ((p.flags & 2u) != 0u) { v += c[at]; }
      c[at] = activation(ACT, v);
    }
  }
}
