// One fused AdamW step, in place (decoupled weight decay, as torch.optim.AdamW):
//   p -= lr * wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc = 1 - beta^step (computed on the host).

struct Params {
  n: u32, start: u32, base: u32, _p0: u32,
  lr: f32, beta1: f32, beta2: f32, eps: f32,
  weight_decay: f32, bc1: f32, bc2: f32, _p1: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn adamw(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  // All four operands share one window layout (same size), so one base serves them.
  let at = p.start + i - p.base;
  let g = grad[at];
  var w = param[at];
  w -= p.lr * p.weight_decay * w;
  let mi = p.beta1 * m[at] + (1.0 - p.beta1) * g;
  let vi = p.beta2 * v[at] + (1.0 - p.beta2) * g * g;
  m[at] = mi;
  v[at] = vi;
  param[at] = w - p.lr * (mi / p.bc1) / (sqrt(vi / p.bc2) + p.eps);
}
