// Scaled dot-product attention without materialising the [tq, tk] score matrix.
// forward: one invocation per query row (b, h, i) streams the keys with an online softmax
// (running max and sum, rescaling the accumulator when the max grows), FlashAttention-style.
// backward: delta_i = dO_i . O_i; then dQ per query row and dK, dV per key row, both
// recomputing p_ij = exp(s_ij - lse_i) instead of storing it.
// GQA: query head h reads kv head h / (heads / kv_heads). Masks are additive, read at
// mask[b * mask_bs + h * mask_hs + i * tk + j]; causal hides j > i + (tk - tq).

const MAXD = 64u;   // >= dim (register array size, specialised by the host)
const MAXDV = 64u;  // >= dim_v

struct Params {
  batch: u32, heads: u32, kv_heads: u32, tq: u32,
  tk: u32, dim: u32, dim_v: u32, scale: f32,
  causal: u32, has_mask: u32, mask_bs: u32, mask_hs: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // out (forward) or dq / dk
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
@group(0) @binding(7) var<storage, read> o: array<f32>;           // forward output (backward)
@group(0) @binding(8) var<storage, read> g_out: array<f32>;
@group(0) @binding(9) var<storage, read_write> delta: array<f32>;
@group(0) @binding(10) var<storage, read_write> out2: array<f32>; // dv

override WG: u32 = 64u;

const NEG_INF = -3.4028234663852886e38;  // finite "minus infinity": keeps exp() and max() NaN-free

// Scaled score of query row qi (head h, batch bi) against key row kj, or NEG_INF if hidden.
fn score(qrow: ptr<function, array<f32, MAXD>>, bi: u32, h: u32, i: u32, kbase: u32, j: u32) -> f32 {
  if (p.causal != 0u && j > i + (p.tk - p.tq)) { return NEG_INF; }
  var s = 0.0;
  let kr = kbase + j * p.dim;
  for (var d = 0u; d < p.dim; d++) { s = fma((*qrow)[d], k[kr + d], s); }
  s *= p.scale;
  if (p.has_mask != 0u) { s += mask[bi * p.mask_bs + h * p.mask_hs + i * p.tk + j]; }
  return s;
}

var<private> NEG_INF_BITS: u32 = 0xff800000u;  // true -inf for lse of fully hidden rows

fn row_id(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

@compute @workgroup_size(WG)
fn attention(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = row_id(gid, nwg);
  if (t >= p.batch * p.heads * p.tq) { return; }
  let i = t % p.tq;
  let h = (t / p.tq) % p.heads;
  let bi = t / (p.tq * p.heads);
  let kvh = h / (p.heads / p.kv_heads);
  let kbase = (bi * p.kv_heads + kvh) * p.tk * p.dim;
  let vbase = (bi * p.kv_heads + kvh) * p.tk * p.dim_v;

  var qrow: array<f32, MAXD>;
  for (var d = 0u; d < p.dim; d++) { qrow[d] = q[t * p.dim + d]; }
  var acc: array<f32, MAXDV>;
  for (var d = 0u; d < p.dim_v; d++) { acc[d] = 0.0; }
  var m = NEG_INF;
  var l = 0.0;
  for (var j = 0u; j < p.tk; j++) {
    let s = score(&qrow, bi, h, i, kbase, j);
    if (s <= NEG_INF) { continue; }
    let m_new = max(m, s);
    let correction = exp(m - m_new);
    let pj = exp(s - m_new);
    l = l * correction + pj;
    let vr = vbase + j * p.dim_v;
    for (var d = 0u; d < p.dim_v; d++) { acc[d] = fma(pj, v[vr + d], acc[d] * correction); }
    m = m_new;
  }
  // A row with every key hidden: output 0, lse -inf.
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var d = 0u; d < p.dim_v; d++) { out[t * p.dim_v + d] = acc[d] * inv; }
  lse[t] = select(bitcast<f32>(NEG_INF_BITS), m + log(l), l > 0.0);
}

@compute @workgroup_size(WG)
fn attention_delta(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = row_id(gid, nwg);
  if (t >= p.batch * p.heads * p.tq) { return; }
  var s = 0.0;
  for (var d = 0u; d < p.dim_v; d++) { s = fma(o[t * p.dim_v + d], g_out[t * p.dim_v + d], s); }
  delta[t] = s;
}

// p_ij and ds_ij = p_ij (dO_i . V_j - delta_i) for one (query row t, key j).
fn prob(s: f32, t: u32) -> f32 {
  let l = lse[t];
  if (s <= NEG_INF || l < NEG_INF) { return 0.0; }
  return exp(s - l);
}

fn dot_gout_v(t: u32, vr: u32) -> f32 {
  var s = 0.0;
  for (var d = 0u; d < p.dim_v; d++) { s = fma(g_out[t * p.dim_v + d], v[vr + d], s); }
  return s;
}

@compute @workgroup_size(WG)
fn attention_dq(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = row_id(gid, nwg);
  if (t >= p.batch * p.heads * p.tq) { return; }
  let i = t % p.tq;
  let h = (t / p.tq) % p.heads;
  let bi = t / (p.tq * p.heads);
  let kvh = h / (p.heads / p.kv_heads);
  let kbase = (bi * p.kv_heads + kvh) * p.tk * p.dim;
  let vbase = (bi * p.kv_heads + kvh) * p.tk * p.dim_v;
  var qrow: array<f32, MAXD>;
  for (var d = 0u; d < p.dim; d++) { qrow[d] = q[t * p.dim + d]; }
  var dq: array<f32, MAXD>;
  for (var d = 0u; d < p.dim; d++) { dq[d] = 0.0; }
  let dl = delta[t];
  for (var j = 0u; j < p.tk; j++) {
    let pj = prob(score(&qrow, bi, h, i, kbase, j), t);
    if (pj == 0.0) { continue; }
    let ds = pj * (dot_gout_v(t, vbase + j * p.dim_v) - dl) * p.scale;
    let kr = kbase + j * p.dim;
    for (var d = 0u; d < p.dim; d++) { dq[d] = fma(ds, k[kr + d], dq[d]); }
  }
  for (var d = 0u; d < p.dim; d++) { out[t * p.dim + d] = dq[d]; }
}

// One invocation per key row (b, kv head, j): sums over every query head of its group and
// every query row.
@compute @workgroup_size(WG)
fn attention_dkv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = row_id(gid, nwg);
  if (t >= p.batch * p.kv_heads * p.tk) { return; }
  let j = t % p.tk;
  let kvh = (t / p.tk) % p.kv_heads;
  let bi = t / (p.tk * p.kv_heads);
  let group = p.heads / p.kv_heads;
  let kbase = (bi * p.kv_heads + kvh) * p.tk * p.dim;
  let vbase = (bi * p.kv_heads + kvh) * p.tk * p.dim_v;
  var dk: array<f32, MAXD>;
  for (var d = 0u; d < p.dim; d++) { dk[d] = 0.0; }
  var dv: array<f32, MAXDV>;
  for (var d = 0u; d < p.dim_v; d++) { dv[d] = 0.0; }
  var qrow: array<f32, MAXD>;
  for (var h = kvh * group; h < (kvh + 1u) * group; h++) {
    for (var i = 0u; i < p.tq; i++) {
      let qt = (bi * p.heads + h) * p.tq + i;
      for (var d = 0u; d < p.dim; d++) { qrow[d] = q[qt * p.dim + d]; }
      let pj = prob(score(&qrow, bi, h, i, kbase, j), qt);
      if (pj == 0.0) { continue; }
      let ds = pj * (dot_gout_v(qt, vbase + j * p.dim_v) - delta[qt]) * p.scale;
      for (var d = 0u; d < p.dim; d++) { dk[d] = fma(ds, qrow[d], dk[d]); }
      for (var d = 0u; d < p.dim_v; d++) { dv[d] = fma(pj, g_out[qt * p.dim_v + d], dv[d]); }
    }
  }
  for (var d = 0u; d < p.dim; d++) { out[t * p.dim + d] = dk[d]; }
  for (var d = 0u; d < p.dim_v; d++) { out2[t * p.dim_v + d] = dv[d]; }
}
