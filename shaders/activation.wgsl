// Activation formulas shared by unary.wgsl and the matmul epilogue. WGSL has no includes: a
// file whose first line is `// prelude: activation` is compiled after this one (shaders.ts).
// This file is a valid WGSL module on its own (declarations only, no entry point).

const SQRT_2_OVER_PI = 0.7978845608028654;
const INV_SQRT2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;

// erf to ~1e-7 absolute (Abramowitz-Stegun 7.1.26 is 1.5e-7, below float32 rounding of gelu).
fn erf_(v: f32) -> f32 {
  let a = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(v) * (1.0 - poly * exp(-a * a));
}

// tanh without overflow for large |v| (exp(2v) would be inf and inf/inf NaN).
fn tanh_(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  return sign(v) * (1.0 - e) / (1.0 + e);
}

fn sigmoid_(v: f32) -> f32 { return 1.0 / (1.0 + exp(-v)); }
fn silu_(v: f32) -> f32 { return v * sigmoid_(v); }
fn gelu_erf_(v: f32) -> f32 { return 0.5 * v * (1.0 + erf_(v * INV_SQRT2)); }
fn gelu_tanh_(v: f32) -> f32 { return 0.5 * v * (1.0 + tanh_(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))); }
fn relu_(v: f32) -> f32 { return max(v, 0.0); }

// Epilogue activation codes (MatmulArgs.activation); 0 is none.
const ACT_NONE = 0u; const ACT_GELU_ERF = 1u; const ACT_GELU_TANH = 2u; const ACT_SILU = 3u; const ACT_RELU = 4u;

fn activation(code: u32, v: f32) -> f32 {
  switch code {
    case ACT_GELU_ERF: { return gelu_erf_(v); }
    case ACT_GELU_TANH: { return gelu_tanh_(v); }
    case ACT_SILU: { return silu_(v); }
    case ACT_RELU: { return relu_(v); }
    default: { return v; }
  }
}
