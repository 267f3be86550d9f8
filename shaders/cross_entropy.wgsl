// Cross-entropy over logits [rows, cols] with integer targets: loss = logsumexp(x) - x[t]
// (0 where t == ignore_index), and its gradient (softmax(x) - onehot(t)) * g_loss[grow - p.rb].
// One workgroup per row.

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

fn logsumexp(xo: u32, lid: u32) -> f32 {
  var m = -3.4028234663852886e38;
  for (var j = lid; j < p.cols; j += WG) { m = max(m, x[xo + j]); }
  m = reduce(m, lid, true);
  var s = 0.0;
  for (var j = lid; j < p.cols; j += WG) { s += exp(x[xo + j] - m); }
  return m + log(reduce(s, lid, false));
}

@compute @workgroup_size(WG)
fn cross_entropy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  let xo = grow * p.cols - p.xb;
  let lse = logsumexp(xo, lid);
  if (lid == 0u) {
    let t = targets[grow - p.rb];
    let ok = t != p.ignore_index && t >= 0 && u32(t) < p.cols;
    loss[grow - p.rb] = select(0.0, lse - x[xo + u32(max(t, 0))], ok);
    valid[grow - p.rb] = select(0.0, 1.0, ok);
  }
}

@compute @workgroup_size(WG)
fn cross_entropy_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let grow = p.row0 + row;
  let xo = grow * p.cols - p.xb;
  let oo = grow * p.cols - p.ob;
  let t = targets[grow - p.rb];
  let ok = t != p.ignore_index && t >= 0 && u32(t) < p.cols;
  if (!ok) {
    for (var j = lid; j < p.cols; j += WG) { loss[oo + j] = 0.0; }
    return;
  }
  let lse = logsumexp(xo, lid);
  let g = g_loss[grow - p.rb];
  for (var j = lid; j < p.cols; j += WG) {
    let sm = exp(x[xo + j] - lse);
    loss[oo + j] = (sm - select(0.0, 1.0, j == u32(t))) * g;
  }
}
