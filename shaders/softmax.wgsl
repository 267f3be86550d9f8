// Softmax / log-softmax over the last axis of [rows, cols], and its gradient from the output.
// One workgroup per row: a max pass, a sum pass, a write pass, with tree reductions in
// workgroup memory (rows are usually a few hundred to 150k columns).

// Row splitting (operands over one storage binding): rows [row0, row0 + rows) of the whole
// tensor, each operand bound as a window starting at element xb / ob / gb.
struct Params { rows: u32, cols: u32, log: u32, row0: u32, xb: u32, ob: u32, gb: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;     // x (forward) or y (grad)
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> gy: array<f32>;

override WG: u32 = 64u;

var<workgroup> red: array<f32, WG>;

fn reduce_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

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
fn softmax(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = (p.row0 + row) * p.cols;
  let xo = base - p.xb;
  let oo = base - p.ob;
  let go = base - p.gb;
  var m = -3.4028234663852886e38;
  for (var j = lid; j < p.cols; j += WG) { m = max(m, x[xo + j]); }
  m = reduce_max(m, lid);
  var s = 0.0;
  for (var j = lid; j < p.cols; j += WG) { s += exp(x[xo + j] - m); }
  s = reduce_sum(s, lid);
  if (p.log != 0u) {
    let lse = m + log(s);
    for (var j = lid; j < p.cols; j += WG) { out[oo + j] = x[xo + j] - lse; }
  } else {
    let inv = 1.0 / s;
    for (var j = lid; j < p.cols; j += WG) { out[oo + j] = exp(x[xo + j] - m) * inv; }
  }
}

// softmax: dx = y * (gy - sum(gy * y)); log_softmax: dx = gy - exp(y) * sum(gy).
@compute @workgroup_size(WG)
fn softmax_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = (p.row0 + row) * p.cols;
  let xo = base - p.xb;
  let oo = base - p.ob;
  let go = base - p.gb;
  var s = 0.0;
  if (p.log != 0u) {
    for (var j = lid; j < p.cols; j += WG) { s += gy[go + j]; }
  } else {
    for (var j = lid; j < p.cols; j += WG) { s += gy[go + j] * x[xo + j]; }
  }
  s = reduce_sum(s, lid);
  if (p.log != 0u) {
    for (var j = lid; j < p.cols; j += WG) { out[oo + j] = gy[go + j] - exp(x[xo + j]) * s; }
  } else {
    for (var j = lid; j < p.cols; j += WG) { out[oo + j] = x[xo + j] * (gy[go + j] - s); }
  }
}
