// prelude: block_sum
// Softmax / log-softmax over the last axis of [rows, cols], and its gradient from the output:
// a max pass, a sum pass, a write pass. Rows map to one workgroup each, with tree reductions in
// workgroup memory (softmax, softmax_grad: GPUs, long rows), or to one invocation each with no
// barriers (softmax_rows, softmax_grad_rows: software adapters; see normalize.wgsl). The passes
// walk columns first, first + step, ... (step WG or 1).

// Row splitting (operands over one storage binding): rows [row0, row0 + rows) of the whole
// tensor, each operand bound as a window starting at element xb / ob / gb.
struct Params { rows: u32, cols: u32, log: u32, row0: u32, xb: u32, ob: u32, gb: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;     // x (forward) or y (grad)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> gy: array<f32>;

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

// Element offsets of one row in x, out and gy.
struct Row { xo: u32, oo: u32, go: u32 }

fn row_at(row: u32) -> Row {
  let base = (p.row0 + row) * p.cols;
  return Row(base - p.xb, base - p.ob, base - p.gb);
}

fn part_max(r: Row, first: u32, step: u32) -> f32 {
  var m = -3.4028234663852886e38;
  for (var j = first; j < p.cols; j += step) { m = max(m, x[r.xo + j]); }
  return m;
}

// Sums go through block_sum.wgsl (an invocation may sum a whole long row).
fn part_sum_exp(r: Row, m: f32, first: u32, step: u32) -> f32 {
  var s = BlockSum();
  for (var j = first; j < p.cols; j += step) { block_add(&s, exp(x[r.xo + j] - m)); }
  return block_total(s);
}

fn write_softmax(r: Row, m: f32, s: f32, first: u32, step: u32) {
  if (p.log != 0u) {
    let lse = m + log(s);
    for (var j = first; j < p.cols; j += step) { out[r.oo + j] = x[r.xo + j] - lse; }
  } else {
    let inv = 1.0 / s;
    for (var j = first; j < p.cols; j += step) { out[r.oo + j] = exp(x[r.xo + j] - m) * inv; }
  }
}

// softmax: dx = y * (gy - sum(gy * y)); log_softmax: dx = gy - exp(y) * sum(gy).
fn part_grad(r: Row, first: u32, step: u32) -> f32 {
  var s = BlockSum();
  for (var j = first; j < p.cols; j += step) { block_add(&s, select(gy[r.go + j] * x[r.xo + j], gy[r.go + j], p.log != 0u)); }
  return block_total(s);
}

fn write_grad(r: Row, s: f32, first: u32, step: u32) {
  if (p.log != 0u) {
    for (var j = first; j < p.cols; j += step) { out[r.oo + j] = gy[r.go + j] - exp(x[r.xo + j]) * s; }
  } else {
    for (var j = first; j < p.cols; j += step) { out[r.oo + j] = x[r.xo + j] * (gy[r.go + j] - s); }
  }
}

@compute @workgroup_size(WG)
fn softmax(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  let m = reduce(part_max(r, lid, WG), lid, true);
  let s = reduce(part_sum_exp(r, m, lid, WG), lid, false);
  write_softmax(r, m, s, lid, WG);
}

@compute @workgroup_size(WG)
fn softmax_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  let m = part_max(r, 0u, 1u);
  write_softmax(r, m, part_sum_exp(r, m, 0u, 1u), 0u, 1u);
}

@compute @workgroup_size(WG)
fn softmax_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  write_grad(r, reduce(part_grad(r, lid, WG), lid, false), lid, WG);
}

@compute @workgroup_size(WG)
fn softmax_grad_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.rows) { return; }
  let r = row_at(row);
  write_grad(r, part_grad(r, 0u, 1u), 0u, 1u);
}
