// Scaled dot-product attention, FlashAttention-style: the [tq, tk] score matrix is never stored.
// Private tiles are zeroed explicitly (`= array<...>()`): a bare `var` declared in a loop body
// was not re-zeroed on each iteration by Dawn + lavapipe here.
//
// Register tiling, as in matmul.wgsl: an invocation owns TQ query rows (forward, dQ) or TK key
// rows (dK/dV) and walks the other side in blocks of BK. Each block is two small matmuls done
// as outer-product updates (S = Q K^T, then O += P V), so every k/v/q element loaded from
// memory feeds TQ (or TK) FMAs instead of one. On lavapipe, where invocations are SIMD lanes of
// a CPU core, that ratio is what bounds speed; workgroup memory would add barriers for nothing.
// Accumulators indexed by the head dimension (acc, dq, dk, dv) are updated one column at a time
// with the block's BK terms summed in registers: lavapipe keeps private arrays in memory as
// [element][lane], so an index that is a loop counter costs a per-lane gather (and a masked
// scatter to write back); reading and writing each column once per block instead of once per key
// made the forward 2x and the backward 1.6x faster there.
//
//   forward: per key block, online softmax: m = running max, l = running sum, the accumulator
//            is rescaled by exp(m_old - m_new) once per block (not per key).
//   backward (p recomputed from lse, nothing of size tq*tk stored):
//            delta_i = dO_i . O_i                                  (attention_delta)
//            dQ_i  = sum_j p_ij (dO_i . V_j - delta_i) scale K_j  (attention_dq, per query rows)
//            dK_j  = sum_i ds_ij Q_i, dV_j = sum_i p_ij dO_i      (attention_dkv, per key rows,
//                    summing every query head of its GQA group)
// GQA: query head h reads kv head h / (heads / kv_heads). Masks are additive, read at
// mask[b * mask_bs + h * mask_hs + i * tk + j]; causal hides j > i + (tk - tq).

// q/k/v element types: f16 reads float16 storage natively in the forward kernel (loads widen to
// f32, so the softmax and accumulation stay f32). The backward kernels run on f32 only.
alias QT = f32;
alias KT = f32;
alias VT = f32;

const D = 64u;    // >= head dim of q and k: private array size (specialised by the host)
const DV = 64u;   // >= head dim of v
const TQ = 4u;    // query rows per invocation (forward, dQ)
const TK = 4u;    // key rows per invocation (dK/dV)
const BK = 8u;    // block length of the streamed side

struct Params {
  batch: u32, heads: u32, kv_heads: u32, tq: u32,
  tk: u32, dim: u32, dim_v: u32, scale: f32,
  causal: u32, has_mask: u32, mask_bs: u32, mask_hs: u32,
  // Over the binding limit the host splits the work into ranges of (batch, head) slices: this
  // dispatch does bh = b * heads + h in [u0, u0 + units) (dK/dV: the kv heads those query heads
  // read, summing only their share of each GQA group). Each binding is a window starting at element *_base of its tensor; the
  // kernels index globally and subtract it.
  u0: u32, units: u32, q_base: u32, k_base: u32,
  v_base: u32, mask_base: u32, out_base: u32, lse_base: u32,
  o_base: u32, g_out_base: u32, delta_base: u32, out2_base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<QT>;
@group(0) @binding(2) var<storage, read> k: array<KT>;
@group(0) @binding(3) var<storage, read> v: array<VT>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;   // out (forward) or dq / dk
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;
@group(0) @binding(7) var<storage, read> o: array<f32>;           // forward output (backward)
@group(0) @binding(8) var<storage, read> g_out: array<f32>;
@group(0) @binding(9) var<storage, read_write> delta: array<f32>;
@group(0) @binding(10) var<storage, read_write> out2: array<f32>; // dv

override WG: u32 = 64u;
// True when D and DV are the exact head dims: loops get constant trip counts and unroll. Odd
// dims share one variant per size bucket instead (runtime trip counts), which keeps the number
// of pipelines, and lavapipe's compile time, small.
override EXACT_DIMS: bool = true;

fn qk_dim() -> u32 { return select(p.dim, D, EXACT_DIMS); }
fn v_dim() -> u32 { return select(p.dim_v, DV, EXACT_DIMS); }

const NEG_INF = -3.4028234663852886e38;  // finite "minus infinity": keeps exp() and max() NaN-free
var<private> NEG_INF_BITS: u32 = 0xff800000u;  // true -inf for lse of fully hidden rows

fn flat_id(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// Scaled, masked score from a raw dot product, or NEG_INF when key j is hidden from query i
// (causal, out of range, or a -inf mask).
fn masked(dot: f32, bi: u32, h: u32, i: u32, j: u32) -> f32 {
  if (i >= p.tq || j >= p.tk) { return NEG_INF; }
  if (p.causal != 0u && i32(j) > i32(i) + i32(p.tk) - i32(p.tq)) { return NEG_INF; }
  var s = dot * p.scale;
  if (p.has_mask != 0u) { s += mask[bi * p.mask_bs + h * p.mask_hs + i * p.tk + j - p.mask_base]; }
  return select(s, NEG_INF, s <= NEG_INF);
}

// Keys a block of query rows [i0, i_last] can see: all, or up to the causal diagonal of i_last.
fn key_end(i_last: u32) -> u32 {
  if (p.causal == 0u) { return p.tk; }
  return u32(clamp(i32(i_last) + i32(p.tk) - i32(p.tq) + 1, 0, i32(p.tk)));
}

// (b * heads + h, first query row) of a query-tile invocation.
struct QTile { bh: u32, h: u32, bi: u32, i0: u32, kbase: u32, vbase: u32 }

fn q_tile(t: u32) -> QTile {
  let tiles = (p.tq + TQ - 1u) / TQ;
  let bh = p.u0 + t / tiles;
  let h = bh % p.heads;
  let bi = bh / p.heads;
  let kvh = h / (p.heads / p.kv_heads);
  let kv = bi * p.kv_heads + kvh;
  // k/v offsets relative to their windows (hot loops index with these directly)
  return QTile(bh, h, bi, (t % tiles) * TQ, kv * p.tk * qk_dim() - p.k_base, kv * p.tk * v_dim() - p.v_base);
}

@compute @workgroup_size(WG)
fn attention(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.units * ((p.tq + TQ - 1u) / TQ)) { return; }
  let qt = q_tile(t);

  // Rows past tq are clamped (valid loads) and never stored.
  var qr = array<array<f32, D>, TQ>();
  for (var r = 0u; r < TQ; r++) {
    let qb = (qt.bh * p.tq + min(qt.i0 + r, p.tq - 1u)) * qk_dim();
    for (var d = 0u; d < qk_dim(); d++) { qr[r][d] = f32(q[qb + d - p.q_base]); }
  }
  var acc = array<array<f32, DV>, TQ>();
  var m = array<f32, TQ>();
  var l = array<f32, TQ>();
  for (var r = 0u; r < TQ; r++) { m[r] = NEG_INF; }

  let kend = key_end(min(qt.i0 + TQ - 1u, p.tq - 1u));
  for (var j0 = 0u; j0 < kend; j0 += BK) {
    var kr = array<u32, BK>();
    for (var c = 0u; c < BK; c++) { kr[c] = min(j0 + c, p.tk - 1u); }
    // S = Q K^T for this block.
    var s = array<array<f32, BK>, TQ>();
    for (var d = 0u; d < qk_dim(); d++) {
      var kv = array<f32, BK>();
      for (var c = 0u; c < BK; c++) { kv[c] = f32(k[qt.kbase + kr[c] * qk_dim() + d]); }
      for (var r = 0u; r < TQ; r++) {
        let qv = qr[r][d];
        for (var c = 0u; c < BK; c++) { s[r][c] = fma(qv, kv[c], s[r][c]); }
      }
    }
    // Online softmax: s becomes p = exp(s - m_new); acc and l are rescaled once per block.
    var corr_r = array<f32, TQ>();
    for (var r = 0u; r < TQ; r++) {
      var mb = m[r];
      for (var c = 0u; c < BK; c++) {
        let sv = masked(s[r][c], qt.bi, qt.h, qt.i0 + r, j0 + c);
        s[r][c] = sv;
        mb = max(mb, sv);
      }
      let corr = exp(m[r] - mb);
      m[r] = mb;
      var sum = l[r] * corr;
      for (var c = 0u; c < BK; c++) {
        let pv = select(exp(s[r][c] - mb), 0.0, s[r][c] <= NEG_INF);
        s[r][c] = pv;
        sum += pv;
      }
      l[r] = sum;
      corr_r[r] = corr;
    }
    // O = O * corr + P V, one output column at a time: acc[r][e] (indexed by a loop counter, so a
    // per-lane gather/scatter on lavapipe) is read and written once per column and block, while
    // the BK keys accumulate in registers.
    for (var e = 0u; e < v_dim(); e++) {
      var o = array<f32, TQ>();
      for (var r = 0u; r < TQ; r++) { o[r] = acc[r][e] * corr_r[r]; }
      for (var c = 0u; c < BK; c++) {
        let vv = f32(v[qt.vbase + kr[c] * v_dim() + e]);
        for (var r = 0u; r < TQ; r++) { o[r] = fma(s[r][c], vv, o[r]); }
      }
      for (var r = 0u; r < TQ; r++) { acc[r][e] = o[r]; }
    }
  }

  // A row with every key hidden: output 0, lse -inf.
  for (var r = 0u; r < TQ; r++) {
    let i = qt.i0 + r;
    if (i >= p.tq) { break; }
    let row = qt.bh * p.tq + i;
    let inv = select(0.0, 1.0 / l[r], l[r] > 0.0);
    for (var e = 0u; e < v_dim(); e++) { out[row * v_dim() + e - p.out_base] = acc[r][e] * inv; }
    lse[row - p.lse_base] = select(bitcast<f32>(NEG_INF_BITS), m[r] + log(l[r]), l[r] > 0.0);
  }
}

@compute @workgroup_size(WG)
fn attention_delta(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.units * p.tq) { return; }
  let row = p.u0 * p.tq + t;
  var s = 0.0;
  for (var e = 0u; e < v_dim(); e++) { s = fma(o[row * v_dim() + e - p.o_base], g_out[row * v_dim() + e - p.g_out_base], s); }
  delta[row - p.delta_base] = s;
}

// p_ij from a masked score and the row's lse (0 for hidden keys and fully hidden rows).
fn prob(s: f32, l: f32) -> f32 {
  if (s <= NEG_INF || l < NEG_INF) { return 0.0; }
  return exp(s - l);
}

@compute @workgroup_size(WG)
fn attention_dq(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat_id(gid, nwg);
  if (t >= p.units * ((p.tq + TQ - 1u) / TQ)) { return; }
  let qt = q_tile(t);

  var qr = array<array<f32, D>, TQ>();
  var go = array<array<f32, DV>, TQ>();
  var lr = array<f32, TQ>();
  var dl = array<f32, TQ>();
  for (var r = 0u; r < TQ; r++) {
    let row = qt.bh * p.tq + min(qt.i0 + r, p.tq - 1u);
    for (var d = 0u; d < qk_dim(); d++) { qr[r][d] = f32(q[row * qk_dim() + d - p.q_base]); }
    for (var e = 0u; e < v_dim(); e++) { go[r][e] = g_out[row * v_dim() + e - p.g_out_base]; }
    lr[r] = lse[row - p.lse_base];
    dl[r] = delta[row - p.delta_base];
  }
  var dq = array<array<f32, D>, TQ>();

  let kend = key_end(min(qt.i0 + TQ - 1u, p.tq - 1u));
  for (var j0 = 0u; j0 < kend; j0 += BK) {
    var kr = array<u32, BK>();
    for (var c = 0u; c < BK; c++) { kr[c] = min(j0 + c, p.tk - 1u); }
    var s = array<array<f32, BK>, TQ>();   // Q K^T
    var dp = array<array<f32, BK>, TQ>();  // dO V^T
    for (var d = 0u; d < qk_dim(); d++) {
      var kv = array<f32, BK>();
      for (var c = 0u; c < BK; c++) { kv[c] = f32(k[qt.kbase + kr[c] * qk_dim() + d]); }
      for (var r = 0u; r < TQ; r++) {
        let qv = qr[r][d];
        for (var c = 0u; c < BK; c++) { s[r][c] = fma(qv, kv[c], s[r][c]); }
      }
    }
    for (var e = 0u; e < v_dim(); e++) {
      var vv = array<f32, BK>();
      for (var c = 0u; c < BK; c++) { vv[c] = f32(v[qt.vbase + kr[c] * v_dim() + e]); }
      for (var r = 0u; r < TQ; r++) {
        let gv = go[r][e];
        for (var c = 0u; c < BK; c++) { dp[r][c] = fma(gv, vv[c], dp[r][c]); }
      }
    }
    // ds = p (dp - delta) scale, kept in s.
    for (var r = 0u; r < TQ; r++) {
      for (var c = 0u; c < BK; c++) {
        let pr = prob(masked(s[r][c], qt.bi, qt.h, qt.i0 + r, j0 + c), lr[r]);
        s[r][c] = pr * (dp[r][c] - dl[r]) * p.scale;
      }
    }
    // dQ += dS K, a column at a time (as O += P V in the forward kernel).
    for (var d = 0u; d < qk_dim(); d++) {
      var g = array<f32, TQ>();
      for (var r = 0u; r < TQ; r++) { g[r] = dq[r][d]; }
      for (var c = 0u; c < BK; c++) {
        let kv = f32(k[qt.kbase + kr[c] * qk_dim() + d]);
        for (var r = 0u; r < TQ; r++) { g[r] = fma(s[r][c], kv, g[r]); }
      }
      for (var r = 0u; r < TQ; r++) { dq[r][d] = g[r]; }
    }
  }

  for (var r = 0u; r < TQ; r++) {
    let i = qt.i0 + r;
    if (i >= p.tq) { break; }
    let row = qt.bh * p.tq + i;
    for (var d = 0u; d < qk_dim(); d++) { out[row * qk_dim() + d - p.out_base] = dq[r][d]; }
  }
}

// An invocation owns TK key rows of one (batch, kv head) and sums over every query head of its
// group and every query row that can see them, in blocks of BK query rows. A split dispatch
// sums only the group's heads in [u0, u0 + units); a kv head whose group began in the previous
// range adds to the dK/dV that range stored (ranges run in order).
@compute @workgroup_size(WG)
fn attention_dkv(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let tiles = (p.tk + TK - 1u) / TK;
  let group = p.heads / p.kv_heads;
  // b * heads + h in a group is (b * kv_heads + kv head) * group + h % group.
  let kv0 = p.u0 / group;
  let t = flat_id(gid, nwg);
  if (t >= ((p.u0 + p.units - 1u) / group + 1u - kv0) * tiles) { return; }
  let j0 = (t % tiles) * TK;
  let kv = kv0 + t / tiles;         // b * kv_heads + kv head
  let bh_lo = max(p.u0, kv * group);
  let bh_hi = min(p.u0 + p.units, (kv + 1u) * group);

  var kr = array<array<f32, D>, TK>();
  var vr = array<array<f32, DV>, TK>();
  for (var r = 0u; r < TK; r++) {
    let j = min(j0 + r, p.tk - 1u);
    for (var d = 0u; d < qk_dim(); d++) { kr[r][d] = f32(k[(kv * p.tk + j) * qk_dim() + d - p.k_base]); }
    for (var e = 0u; e < v_dim(); e++) { vr[r][e] = f32(v[(kv * p.tk + j) * v_dim() + e - p.v_base]); }
  }
  var dk = array<array<f32, D>, TK>();
  var dv = array<array<f32, DV>, TK>();

  // Causal: query i sees key j when i >= j - (tk - tq); start at the first row that sees j0.
  var istart = 0u;
  if (p.causal != 0u) { istart = u32(max(0, i32(j0) - (i32(p.tk) - i32(p.tq)))); }
  for (var bh = bh_lo; bh < bh_hi; bh++) {
    let bi = bh / p.heads;
    let h = bh % p.heads;
    for (var i0 = istart; i0 < p.tq; i0 += BK) {
      var rows = array<u32, BK>();   // clamped query rows of the block
      for (var c = 0u; c < BK; c++) { rows[c] = bh * p.tq + min(i0 + c, p.tq - 1u); }
      var s = array<array<f32, BK>, TK>();   // K Q^T
      var dp = array<array<f32, BK>, TK>();  // V dO^T
      for (var d = 0u; d < qk_dim(); d++) {
        var qv = array<f32, BK>();
        for (var c = 0u; c < BK; c++) { qv[c] = f32(q[rows[c] * qk_dim() + d - p.q_base]); }
        for (var r = 0u; r < TK; r++) {
          let kx = kr[r][d];
          for (var c = 0u; c < BK; c++) { s[r][c] = fma(kx, qv[c], s[r][c]); }
        }
      }
      for (var e = 0u; e < v_dim(); e++) {
        var gv = array<f32, BK>();
        for (var c = 0u; c < BK; c++) { gv[c] = g_out[rows[c] * v_dim() + e - p.g_out_base]; }
        for (var r = 0u; r < TK; r++) {
          let vx = vr[r][e];
          for (var c = 0u; c < BK; c++) { dp[r][c] = fma(vx, gv[c], dp[r][c]); }
        }
      }
      // s becomes p, dp becomes ds = p (dp - delta) scale.
      for (var c = 0u; c < BK; c++) {
        let l = lse[rows[c] - p.lse_base];
        let dl = delta[rows[c] - p.delta_base];
        for (var r = 0u; r < TK; r++) {
          let pr = prob(masked(s[r][c], bi, h, i0 + c, j0 + r), l);
          s[r][c] = pr;
          dp[r][c] = pr * (dp[r][c] - dl) * p.scale;
        }
      }
      // dK += dS Q, dV += P dO, a column at a time (as O += P V in the forward kernel).
      for (var d = 0u; d < qk_dim(); d++) {
        var g = array<f32, TK>();
        for (var r = 0u; r < TK; r++) { g[r] = dk[r][d]; }
        for (var c = 0u; c < BK; c++) {
          let qv = f32(q[rows[c] * qk_dim() + d - p.q_base]);
          for (var r = 0u; r < TK; r++) { g[r] = fma(dp[r][c], qv, g[r]); }
        }
        for (var r = 0u; r < TK; r++) { dk[r][d] = g[r]; }
      }
      for (var e = 0u; e < v_dim(); e++) {
        var g = array<f32, TK>();
        for (var r = 0u; r < TK; r++) { g[r] = dv[r][e]; }
        for (var c = 0u; c < BK; c++) {
          let gv = g_out[rows[c] * v_dim() + e - p.g_out_base];
          for (var r = 0u; r < TK; r++) { g[r] = fma(s[r][c], gv, g[r]); }
        }
        for (var r = 0u; r < TK; r++) { dv[r][e] = g[r]; }
      }
    }
  }

  for (var r = 0u; r < TK; r++) {
    let j = j0 + r;
    if (j >= p.tk) { break; }
    let row = kv * p.tk + j;
    let more = bh_lo > kv * group;  // the group's first heads were summed by the previous range
    for (var d = 0u; d < qk_dim(); d++) {
      let at = row * qk_dim() + d - p.out_base;
      out[at] = select(0.0, out[at], more) + dk[r][d];
    }
    for (var e = 0u; e < v_dim(); e++) {
      let at = row * v_dim() + e - p.out2_base;
      out2[at] = select(0.0, out2[at], more) + dv[r][e];
    }
  }
}
