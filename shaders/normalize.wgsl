// Row normalisation of [rows, cols] for layer norm (mean and variance) and RMS norm, and its
// gradient. One workgroup per row. Layer norm takes the variance around the mean in a second
// pass (more accurate than E[x^2] - E[x]^2 for rows with a large mean).

// Row splitting: rows [row0, row0 + rows); x/y/gy bound as windows starting at xb/yb/gb;
// mean, rstd, rstd_in are windows starting at row rb.
struct Params { rows: u32, cols: u32, rms: u32, eps: f32, row0: u32, xb: u32, yb: u32, gb: u32, rb: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;       // x (forward) or xhat (grad)
@group(0) @binding(2) var<storage, read_write> y: array<f32>;  // y (forward) or dx (grad)
@group(0) @binding(3) var<storage, read_write> mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(5) var<storage, read> gy: array<f32>;
@group(0) @binding(6) var<storage, read> rstd_in: array<f32>;

override WG: u32 = 64u;

var<workgroup> red: array<f32, WG>;

fn reduce_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  let base = grow * p.cols;
  let xo = base - p.xb;
  let yo = base - p.yb;
  let go = base - p.gb;
  let n = f32(p.cols);
  var mu = 0.0;
  if (p.rms == 0u) {
    var s = 0.0;
    for (var j = lid; j < p.cols; j += WG) { s += x[xo + j]; }
    mu = reduce_sum(s, lid) / n;
  }
  var ss = 0.0;
  for (var j = lid; j < p.cols; j += WG) { let d = x[xo + j] - mu; ss += d * d; }
  let r = inverseSqrt(reduce_sum(ss, lid) / n + p.eps);
  for (var j = lid; j < p.cols; j += WG) { y[yo + j] = (x[xo + j] - mu) * r; }
  if (lid == 0u) { mean[grow - p.rb] = mu; rstd[grow - p.rb] = r; }
}

// layer: dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)); rms: the same without mean(gy).
@compute @workgroup_size(WG)
fn normalize_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  let base = grow * p.cols;
  let xo = base - p.xb;
  let yo = base - p.yb;
  let go = base - p.gb;
  let n = f32(p.cols);
  var sg = 0.0;
  var sgx = 0.0;
  for (var j = lid; j < p.cols; j += WG) { let g = gy[yo + j]; sg += g; sgx += g * x[xo + j]; }
  let mg = select(reduce_sum(sg, lid) / n, 0.0, p.rms != 0u);
  let mgx = reduce_sum(sgx, lid) / n;
  let r = rstd_in[grow - p.rb];
  for (var j = lid; j < p.cols; j += WG) { y[yo + j] = r * (gy[yo + j] - mg - x[xo + j] * mgx); }
}
