// Reductions over the middle axis of [outer, len, inner]: sum, max, min, argmax, argmin.
// reduce_columns: one invocation per (o, i), walking len (adjacent invocations read adjacent
// memory when inner > 1). reduce_rows (inner == 1): one workgroup per row, tree-reduced in
// workgroup memory, so long rows use the whole workgroup.

alias T = f32;   // input type
alias O = f32;   // output type (i32 for argmax/argmin)

// Splitting over outer (operands over one storage binding): outer slices [o0, o0 + outer), x and
// out bound as windows starting at elements xb and ob.
struct Params { outer: u32, len: u32, inner: u32, o0: u32, xb: u32, ob: u32, _pad0: u32, _pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<O>;

override OP: u32 = 0u;
override WG: u32 = 256u;

const SUM = 0u; const MAX = 1u; const MIN = 2u; const ARGMAX = 3u; const ARGMIN = 4u;

// A partial result: the value and (for arg ops) its index along len.
struct Acc { v: T, i: u32 }

// Non-finite values come from a private variable: WGSL rejects them as constant expressions.
var<private> INF_BITS: u32 = 0x7f800000u;

fn is_nan(v: T) -> bool { return !(f32(v) == f32(v)); }

// Index 0xffffffff marks "no element yet", so max/min need no -inf/+inf sentinel value.
fn identity() -> Acc { return Acc(T(0), 0xffffffffu); }

// Combines two partials; commutative, so the tree order does not matter. NaN wins (lowest
// index among NaNs); ties keep the lower index, as the CPU's first-wins loop does.
fn combine(a: Acc, b: Acc) -> Acc {
  if (OP == SUM) { return Acc(a.v + b.v, 0u); }
  if (a.i == 0xffffffffu) { return b; }
  if (b.i == 0xffffffffu) { return a; }
  let an = is_nan(a.v); let bn = is_nan(b.v);
  if (an || bn) {
    if (an && bn) { if (a.i < b.i) { return a; } return b; }
    if (an) { return a; }
    return b;
  }
  var b_better: bool;
  if (OP == MAX || OP == ARGMAX) { b_better = b.v > a.v || (b.v == a.v && b.i < a.i); }
  else { b_better = b.v < a.v || (b.v == a.v && b.i < a.i); }
  if (b_better) { return b; }
  return a;
}

fn result(a: Acc) -> O {
  if (OP == ARGMAX || OP == ARGMIN) { return O(select(a.i, 0u, a.i == 0xffffffffu)); }
  if (a.i == 0xffffffffu && OP != SUM) {
    // Empty max/min: -inf/+inf like the CPU (only reachable for float).
    let inf = bitcast<f32>(INF_BITS);
    return O(select(inf, -inf, OP == MAX));
  }
  return O(a.v);
}

@compute @workgroup_size(WG)
fn reduce_columns(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.outer * p.inner) { return; }
  let o = t / p.inner;
  let i = t % p.inner;
  let base = (p.o0 + o) * p.len * p.inner + i - p.xb;
  var acc = identity();
  for (var j = 0u; j < p.len; j++) {
    acc = combine(acc, Acc(x[base + j * p.inner], j));
  }
  out[p.o0 * p.inner + t - p.ob] = result(acc);
}

var<workgroup> partial: array<Acc, WG>;

@compute @workgroup_size(WG)
fn reduce_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform control flow: every invocation of a workgroup takes the same branch.
  if (row >= p.outer) { return; }
  let base = (p.o0 + row) * p.len - p.xb;
  var acc = identity();
  for (var j = lid; j < p.len; j += WG) {
    acc = combine(acc, Acc(x[base + j], j));
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { partial[lid] = combine(partial[lid], partial[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) { out[p.o0 + row - p.ob] = result(partial[0]); }
}
