// Broadcasting binary ops out = a (op) b over a rank-8 (leading-1-padded) output shape.
// Broadcast dims have stride 0, so one index walk serves every operand.

alias A = f32;  // element type of a
alias B = f32;  // element type of b
alias C = f32;  // compute type: i32 when both operands are int32 (exact integer add/mul)
alias O = f32;  // output type

// Indices are global (over the whole tensor); *_base is the first element of each bound window,
// so chunked dispatches over a huge tensor just bind windows and subtract.
struct Params {
  n: u32, start: u32, a_base: u32, b_base: u32, o_base: u32, rank: u32, _pad1: u32, _pad2: u32,
  shape: array<vec4u, 2>,
  a_strides: array<vec4u, 2>,
  b_strides: array<vec4u, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<A>;
@group(0) @binding(2) var<storage, read> b: array<B>;
@group(0) @binding(3) var<storage, read_write> out: array<O>;

override OP: u32 = 0u;
override WG: u32 = 256u;

// BEGIN op formulas (fusion.ts copies this section into fused_elementwise kernels)
const ADD = 0u; const SUB = 1u; const MUL = 2u; const DIV = 3u; const POW = 4u; const MAX = 5u; const MIN = 6u;
const EQ = 7u; const NE = 8u; const LT = 9u; const LE = 10u; const GT = 11u; const GE = 12u;

// Non-finite values come from a private variable: WGSL rejects them as constant expressions.
var<private> NAN_BITS: u32 = 0x7fc00000u;

fn is_nan(v: f32) -> bool { return !(v == v); }

fn binary_op(op: u32, x: C, y: C) -> O {
  switch op {
    case ADD: { return O(x + y); }
    case SUB: { return O(x - y); }
    case MUL: { return O(x * y); }
    case DIV: { return O(f32(x) / f32(y)); }
    case POW: { return O(pow_(f32(x), f32(y))); }
    // NaN propagates from either side, as in the CPU reference (x !== x || x > y ? x : y).
    case MAX: { if (is_nan(f32(x)) || x > y) { return O(x); } return O(y); }
    case MIN: { if (is_nan(f32(x)) || x < y) { return O(x); } return O(y); }
    case EQ: { return O(select(0, 1, x == y)); }
    case NE: { return O(select(0, 1, x != y)); }
    case LT: { return O(select(0, 1, x < y)); }
    case LE: { return O(select(0, 1, x <= y)); }
    case GT: { return O(select(0, 1, x > y)); }
    case GE: { return O(select(0, 1, x >= y)); }
    default: { return O(x); }
  }
}

// WGSL pow is undefined for negative bases; Math.pow gives (-2)^3 = -8 for integral exponents.
fn pow_(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x >= 0.0) { return pow(x, y); }
  if (fract(y) != 0.0) { return bitcast<f32>(NAN_BITS); }
  let r = pow(-x, y);
  return select(r, -r, fract(y * 0.5) != 0.0);
}
// END op formulas

@compute @workgroup_size(WG)
fn binary(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let local = gid.x + gid.y * nwg.x * WG;
  if (local >= p.n) { return; }
  let g = p.start + local;
  // The host merged contiguous dims (collapseDims): walk only the `rank` innermost ones.
  // rank 1 (same shapes, or a scalar operand) needs no division at all.
  var ai = g * p.a_strides[1][3];
  var bi = g * p.b_strides[1][3];
  if (p.rank > 1u) {
    ai = 0u;
    bi = 0u;
    var rem = g;
    let outer = 8i - i32(p.rank);
    // A constant trip count, so the loop unrolls and every p.shape[..] index is a constant (on
    // lavapipe a loop-counter index into an array is a per-lane gather, even a uniform one).
    for (var d = 7i; d >= 0i; d--) {
      if (d > outer) {
        let dim = p.shape[d / 4][d % 4];
        let idx = rem % dim;
        rem = rem / dim;
        ai += idx * p.a_strides[d / 4][d % 4];
        bi += idx * p.b_strides[d / 4][d % 4];
      } else if (d == outer) {
        // The outermost index is what is left (g < n): no division.
        ai += rem * p.a_strides[d / 4][d % 4];
        bi += rem * p.b_strides[d / 4][d % 4];
      }
    }
  }
  out[g - p.o_base] = binary_op(OP, C(a[ai - p.a_base]), C(b[bi - p.b_base]));
}
