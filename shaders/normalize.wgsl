// prelude: block_sum
// Row normalisation of [rows, cols] for layer norm (mean and variance) and RMS norm, and its
// gradient. Layer norm takes the variance around the mean in a second pass (more accurate than
// E[x^2] - E[x]^2 for rows with a large mean).
// Two ways to map rows: one workgroup per row with tree reductions in workgroup memory
// (normalize, normalize_grad: GPUs, long rows), or one invocation per row with no workgroup
// memory and no barriers (normalize_rows, normalize_grad_rows: a software adapter, where a
// workgroup's reduction costs ~5 µs a row; [1024,64] took 7.4 ms one way and 0.45 ms the other
// on lavapipe). The host picks (WebGPURuntime.rowsPerInvocation); the passes over a row are the
// functions below, walking columns first, first + step, ... (step WG or 1).

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

// Element offsets of one row in x, y and gy.
struct Row { grow: u32, xo: u32, yo: u32, go: u32 }

fn row_at(row: u32) -> Row {
  let grow = p.row0 + row;
  let base = grow * p.cols;
  return Row(grow, base - p.xb, base - p.yb, base - p.gb);
}

// Sums go through block_sum.wgsl (an invocation may sum a whole long row).
fn part_sum(r: Row, first: u32, step: u32) -> f32 {
  var s = BlockSum();
  for (var j = first; j < p.cols; j += step) { block_add(&s, x[r.xo + j]); }
  return block_total(s);
}

fn part_sq(r: Row, mu: f32, first: u32, step: u32) -> f32 {
  var s = BlockSum();
  for (var j = first; j < p.cols; j += step) { let d = x[r.xo + j] - mu; block_add(&s, d * d); }
  return block_total(s);
}

fn write_norm(r: Row, mu: f32, inv: f32, first: u32, step: u32) {
  for (var j = first; j < p.cols; j += step) { y[r.yo + j] = (x[r.xo + j] - mu) * inv; }
}

// (sum gy, sum gy * xhat) over the columns walked.
fn part_grad(r: Row, first: u32, step: u32) -> vec2f {
  var sg = BlockSum();
  var sgx = BlockSum();
  for (var j = first; j < p.cols; j += step) {
    let g = gy[r.go + j];
    block_add(&sg, g);
    block_add(&sgx, g * x[r.xo + j]);
  }
  return vec2f(block_total(sg), block_total(sgx));
}

// layer: dx = rstd * (gy - mean(gy) - xhat * mean(gy * xhat)); rms: the same without mean(gy).
fn write_grad(r: Row, inv: f32, mg: f32, mgx: f32, first: u32, step: u32) {
  for (var j = first; j < p.cols; j += step) { y[r.yo + j] = inv * (gy[r.go + j] - mg - x[r.xo + j] * mgx); }
}

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  let n = f32(p.cols);
  var mu = 0.0;
  if (p.rms == 0u) { mu = reduce_sum(part_sum(r, lid, WG), lid) / n; }
  let inv = inverseSqrt(reduce_sum(part_sq(r, mu, lid, WG), lid) / n + p.eps);
  write_norm(r, mu, inv, lid, WG);
  if (lid == 0u) { mean[r.grow - p.rb] = mu; rstd[r.grow - p.rb] = inv; }
}

@compute @workgroup_size(WG)
fn normalize_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  let n = f32(p.cols);
  var mu = 0.0;
  if (p.rms == 0u) { mu = part_sum(r, 0u, 1u) / n; }
  let inv = inverseSqrt(part_sq(r, mu, 0u, 1u) / n + p.eps);
  write_norm(r, mu, inv, 0u, 1u);
  mean[r.grow - p.rb] = mu;
  rstd[r.grow - p.rb] = inv;
}

@compute @workgroup_size(WG)
fn normalize_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  let n = f32(p.cols);
  let part = part_grad(r, lid, WG);
  let mg = select(reduce_sum(part.x, lid) / n, 0.0, p.rms != 0u);
  let mgx = reduce_sum(part.y, lid) / n;
  write_grad(r, rstd_in[r.grow - p.rb], mg, mgx, lid, WG);
}

@compute @workgroup_size(WG)
fn normalize_grad_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  let n = f32(p.cols);
  let part = part_grad(r, 0u, 1u);
  let mg = select(part.x / n, 0.0, p.rms != 0u);
  write_grad(r, rstd_in[r.grow - p.rb], mg, part.y / n, 0u, 1u);
}
