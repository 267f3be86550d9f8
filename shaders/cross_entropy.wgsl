// prelude: block_sum
// Cross-entropy over logits [rows, cols] with integer targets: loss = logsumexp(x) - x[t]
// (0 where t == ignore_index), and its gradient (softmax(x) - onehot(t)) * g_loss[grow - p.rb].
// One workgroup per row (cross_entropy, cross_entropy_grad) or one invocation per row
// (*_rows: software adapters; see normalize.wgsl).

// Row splitting: rows [row0, row0 + rows); x (and dx) bound as windows starting at xb (ob);
// targets, loss, valid and g_loss are windows starting at row rb.
struct Params { rows: u32, cols: u32, ignore_index: i32, row0: u32, xb: u32, ob: u32, rb: u32, _pad1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;   // loss (forward) or dx (grad)
@group(0) @binding(4) var<storage, read_write> valid: array<f32>;
@group(0) @binding(5) var<storage, read> g_loss: array<f32>;

override WG: u32 = 64u;

var<workgroup> red: array<f32, WG>;

fn reduce(v: f32, lid: u32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), is_max); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Passes over one row's logits, walking columns first, first + step, ... (step WG or 1).
fn part_max(xo: u32, first: u32, step: u32) -> f32 {
  var m = -3.4028234663852886e38;
  for (var j = first; j < p.cols; j += step) { m = max(m, x[xo + j]); }
  return m;
}

// Summed through block_sum.wgsl (one invocation may sum a 150k-column vocabulary row).
fn part_sum_exp(xo: u32, m: f32, first: u32, step: u32) -> f32 {
  var s = BlockSum();
  for (var j = first; j < p.cols; j += step) { block_add(&s, exp(x[xo + j] - m)); }
  return block_total(s);
}

fn target_ok(t: i32) -> bool { return t != p.ignore_index && t >= 0 && u32(t) < p.cols; }

fn write_loss(grow: u32, xo: u32, lse: f32) {
  let t = targets[grow - p.rb];
  let ok = target_ok(t);
  loss[grow - p.rb] = select(0.0, lse - x[xo + u32(max(t, 0))], ok);
  valid[grow - p.rb] = select(0.0, 1.0, ok);
}

// dx = (softmax(x) - onehot(t)) * g, or 0 for an ignored row.
fn write_grad(grow: u32, lse: f32, first: u32, step: u32) {
  let xo = grow * p.cols - p.xb;
  let oo = grow * p.cols - p.ob;
  let t = targets[grow - p.rb];
  let ok = target_ok(t);
  let g = g_loss[grow - p.rb];
  for (var j = first; j < p.cols; j += step) {
    let sm = exp(x[xo + j] - lse);
    loss[oo + j] = select(0.0, (sm - select(0.0, 1.0, j == u32(t))) * g, ok);
  }
}

// logsumexp of a row: with the workgroup (lid, reductions in workgroup memory) or alone.
fn lse_shared(xo: u32, lid: u32) -> f32 {
  let m = reduce(part_max(xo, lid, WG), lid, true);
  return m + log(reduce(part_sum_exp(xo, m, lid, WG), lid, false));
}

fn lse_alone(xo: u32) -> f32 {
  let m = part_max(xo, 0u, 1u);
  return m + log(part_sum_exp(xo, m, 0u, 1u));
}

@compute @workgroup_size(WG)
fn cross_entropy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  let lse = lse_shared(grow * p.cols - p.xb, lid);
  if (lid == 0u) { write_loss(grow, grow * p.cols - p.xb, lse); }
}

@compute @workgroup_size(WG)
fn cross_entropy_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  write_loss(grow, grow * p.cols - p.xb, lse_alone(grow * p.cols - p.xb));
}

@compute @workgroup_size(WG)
fn cross_entropy_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  write_grad(grow, lse_shared(grow * p.cols - p.xb, lid), lid, WG);
}

@compute @workgroup_size(WG)
fn cross_entropy_grad_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  write_grad(grow, lse_alone(grow * p.cols - p.xb), 0u, 1u);
}
