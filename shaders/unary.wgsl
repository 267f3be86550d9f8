// prelude: activation
// Elementwise unary ops y = f(x) and their derivatives dx = gy * f'(x). The activation formulas
// (erf_, tanh_, sigmoid_, gelu_*, silu_) are in activation.wgsl, shared with the matmul epilogue.
// OP is an override, so each op compiles to its own branch-free kernel. Offsets let the host
// run one dispatch per window of a tensor larger than the storage binding limit.

alias T = f32; // element type of x and y (i32 for int32 tensors: computed in f32, truncated back)

// Indices are global; *_base is the first element of each bound window (see binary.wgsl).
struct Params { n: u32, start: u32, x_base: u32, y_base: u32, g_base: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
@group(0) @binding(3) var<storage, read> gy: array<f32>;

override OP: u32 = 0u;
override WG: u32 = 256u;

// BEGIN op formulas (fusion.ts copies this section into fused_elementwise kernels)
const NEG = 0u; const EXP = 1u; const LOG = 2u; const SQRT = 3u; const RSQRT = 4u; const ABS = 5u;
const TANH = 6u; const SIGMOID = 7u; const SILU = 8u; const GELU_ERF = 9u; const GELU_TANH = 10u;
const RELU = 11u; const SIN = 12u; const COS = 13u; const SQUARE = 14u; const RECIPROCAL = 15u; const SIGN = 16u;

fn unary_op(op: u32, v: f32) -> f32 {
  switch op {
    case NEG: { return -v; }
    case EXP: { return exp(v); }
    case LOG: { return log(v); }
    case SQRT: { return sqrt(v); }
    case RSQRT: { return 1.0 / sqrt(v); }
    case ABS: { return abs(v); }
    case TANH: { return tanh_(v); }
    case SIGMOID: { return sigmoid_(v); }
    case SILU: { return silu_(v); }
    case GELU_ERF: { return gelu_erf_(v); }
    case GELU_TANH: { return gelu_tanh_(v); }
    case RELU: { return relu_(v); }
    case SIN: { return sin(v); }
    case COS: { return cos(v); }
    case SQUARE: { return v * v; }
    case RECIPROCAL: { return 1.0 / v; }
    case SIGN: { return sign(v); }
    default: { return v; }
  }
}

fn unary_derivative(op: u32, v: f32) -> f32 {
  switch op {
    case NEG: { return -1.0; }
    case EXP: { return exp(v); }
    case LOG: { return 1.0 / v; }
    case SQRT: { return 0.5 / sqrt(v); }
    case RSQRT: { return -0.5 / (v * sqrt(v)); }
    case ABS: { return sign(v); }
    case TANH: { let t = tanh_(v); return 1.0 - t * t; }
    case SIGMOID: { let s = sigmoid_(v); return s * (1.0 - s); }
    case SILU: { let s = sigmoid_(v); return s * (1.0 + v * (1.0 - s)); }
    case GELU_ERF: { return 0.5 * (1.0 + erf_(v * INV_SQRT2)) + v * exp(-0.5 * v * v) * INV_SQRT_2PI; }
    case GELU_TANH: {
      let t = tanh_(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
      let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
      return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * d_inner;
    }
    case RELU: { return select(0.0, 1.0, v > 0.0); }
    case SIN: { return cos(v); }
    case COS: { return -sin(v); }
    case SQUARE: { return 2.0 * v; }
    case RECIPROCAL: { return -1.0 / (v * v); }
    default: { return 0.0; }
  }
}

// gy * f'(x). relu and abs are selects so that gy * 0 never turns inf/NaN gradients into NaN
// where the CPU reference writes 0.
fn unary_grad_op(op: u32, v: f32, g: f32) -> f32 {
  if (op == RELU) { return select(0.0, g, v > 0.0); }
  if (op == ABS) { return select(select(0.0, -g, v < 0.0), g, v > 0.0); }
  if (op == NEG) { return -g; }
  return g * unary_derivative(op, v);
}
// END op formulas

@compute @workgroup_size(WG)
fn unary(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = p.start + i;
  y[g - p.y_base] = T(unary_op(OP, f32(x[g - p.x_base])));
}

@compute @workgroup_size(WG)
fn unary_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let e = p.start + i;
  y[e - p.y_base] = T(unary_grad_op(OP, f32(x[e - p.x_base]), gy[e - p.g_base]));
}
