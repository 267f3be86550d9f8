// One fused AdamW step, in place, as torch.optim.AdamW (decoupled weight decay):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p = p * (1 - lr wd) - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps),  bc = 1 - beta^step.
// The host computes 1 - b1, 1 - b2 and the step constants in float64: in float32, 1 - 0.999
// loses four digits to cancellation.
// T = vec4f (VEC = 4) updates 4 elements per invocation when the sizes and window offsets allow
// it: on lavapipe every storage access is a per-lane loop, so vec4 accesses cost ~1/4 per element.

struct Params {
  n: u32, start: u32, base: u32, _p0: u32,  // n: invocations (elements / VEC)
  beta1: f32, one_minus_beta1: f32, beta2: f32, one_minus_beta2: f32,
  decay: f32, step_size: f32, inv_sqrt_bc2: f32, eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
alias T = f32;
const VEC = 1u;

@group(0) @binding(1) var<storage, read_write> param: array<T>;
@group(0) @binding(2) var<storage, read> grad: array<T>;
@group(0) @binding(3) var<storage, read_write> m: array<T>;
@group(0) @binding(4) var<storage, read_write> v: array<T>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  // All four operands share one window layout (same size), so one base serves them.
  let at = (p.start + i * VEC - p.base) / VEC;
  let g = grad[at];
  let mi = p.beta1 * m[at] + p.one_minus_beta1 * g;
  let vi = p.beta2 * v[at] + p.one_minus_beta2 * g * g;
  m[at] = mi;
  v[at] = vi;
  param[at] = param[at] * p.decay - p.step_size * mi / (sqrt(vi) * p.inv_sqrt_bc2 + p.eps);
}
