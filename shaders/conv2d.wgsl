// 2-D convolution (NCHW, weights [O, C, KH, KW], asymmetric padding) as implicit GEMMs: the
// im2col matrix is never built. Each is register-tiled like matmul.wgsl: an invocation owns a
// TM x TN block of its output and, per reduction step, loads TM + TN values for TM * TN FMAs.
//   forward:     y[n,o,oy,ox]  M = O (channels)  N = N*OH*OW (pixels)  K = C*KH*KW
//   grad input:  gx[n,c,iy,ix] M = C             N = N*H*W             K = O*KH*KW
//   grad weight: gw[o,c,ky,kx] M = O             N = C*KH*KW           K = N*OH*OW
// For forward and grad input the (ky, kx) loop is outside the channel loop, so each pixel's
// window position and padding test are computed once per kernel tap, not per channel.

const TM = 8u;    // output rows (channels) per invocation
const TN = 16u;   // output columns (pixels, or weight taps) per invocation

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  o: u32, kh: u32, kw: u32, has_bias: u32,
  sh: u32, sw: u32, pt: u32, pl: u32,
  oh: u32, ow: u32,
  // Over the binding limit the host splits over the batch: n is the range's image count and
  // x/wt/y bind windows in which the range's first element sits at x_off/wt_off/y_off.
  // accumulate: grad weight adds into y (the ranges after the first).
  x_off: u32, wt_off: u32,
  y_off: u32, accumulate: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;     // x, or gy for grad input
@group(0) @binding(2) var<storage, read> wt: array<f32>;    // w, or gy for grad weight
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

override WGX: u32 = 8u;
override WGY: u32 = 8u;

@compute @workgroup_size(WGX, WGY)
fn conv2d(@builtin(global_invocation_id) gid: vec3u) {
  let pixels = p.n * p.oh * p.ow;
  let o0 = gid.y * TM;
  let q0 = gid.x * TN;
  if (o0 >= p.o || q0 >= pixels) { return; }
  let taps = p.kh * p.kw;
  let hw = p.h * p.w;

  // Per pixel: its image's base in x and the window's top-left corner (may be in the padding).
  var xbase = array<u32, TN>();
  var iy0 = array<i32, TN>();
  var ix0 = array<i32, TN>();
  for (var q = 0u; q < TN; q++) {
    let t = min(q0 + q, pixels - 1u);
    let ox = t % p.ow;
    let oy = (t / p.ow) % p.oh;
    xbase[q] = p.x_off + (t / (p.ow * p.oh)) * p.c * hw;
    iy0[q] = i32(oy * p.sh) - i32(p.pt);
    ix0[q] = i32(ox * p.sw) - i32(p.pl);
  }
  var wrow = array<u32, TM>();
  for (var r = 0u; r < TM; r++) { wrow[r] = min(o0 + r, p.o - 1u) * p.c * taps; }

  var acc = array<f32, TM * TN>();
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      // Offset of this tap in each pixel's image plane, and whether it falls in the padding.
      var xoff = array<u32, TN>();
      var inside = array<bool, TN>();
      for (var q = 0u; q < TN; q++) {
        let iy = iy0[q] + i32(ky);
        let ix = ix0[q] + i32(kx);
        let ok = iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
        xoff[q] = select(0u, xbase[q] + u32(iy) * p.w + u32(ix), ok);
        inside[q] = ok;
      }
      let tap = ky * p.kw + kx;
      for (var ci = 0u; ci < p.c; ci++) {
        var xv = array<f32, TN>();
        // select, not * 0: an inf/NaN at the clamped index must not leak into padded taps.
        for (var q = 0u; q < TN; q++) { xv[q] = select(0.0, x[xoff[q] + ci * hw], inside[q]); }
        for (var r = 0u; r < TM; r++) {
          let wv = wt[wrow[r] + ci * taps + tap];
          for (var q = 0u; q < TN; q++) { acc[r * TN + q] = fma(wv, xv[q], acc[r * TN + q]); }
        }
      }
    }
  }

  let ohw = p.oh * p.ow;
  for (var r = 0u; r < TM; r++) {
    let oc = o0 + r;
    if (oc >= p.o) { break; }
    let b = select(0.0, bias[oc], p.has_bias != 0u);
    for (var q = 0u; q < TN; q++) {
      let t = q0 + q;
      if (t >= pixels) { break; }
      let ni = t / ohw;
      y[p.y_off + (ni * p.o + oc) * ohw + t % ohw] = acc[r * TN + q] + b;
    }
  }
}

// x binds gy [N,O,OH,OW], wt binds w; y is gx [N,C,H,W]. Input pixel (iy, ix) gets tap (ky, kx)
// from output (oy, ox) when oy * sh = iy + pt - ky exactly (and likewise for x).
@compute @workgroup_size(WGX, WGY)
fn conv2d_grad_input(@builtin(global_invocation_id) gid: vec3u) {
  let pixels = p.n * p.h * p.w;
  let c0 = gid.y * TM;
  let q0 = gid.x * TN;
  if (c0 >= p.c || q0 >= pixels) { return; }
  let taps = p.kh * p.kw;
  let ohw = p.oh * p.ow;

  var gbase = array<u32, TN>();
  var ny0 = array<i32, TN>();
  var nx0 = array<i32, TN>();
  for (var q = 0u; q < TN; q++) {
    let t = min(q0 + q, pixels - 1u);
    let ix = t % p.w;
    let iy = (t / p.w) % p.h;
    gbase[q] = p.x_off + (t / (p.w * p.h)) * p.o * ohw;
    ny0[q] = i32(iy + p.pt);
    nx0[q] = i32(ix + p.pl);
  }
  var wcol = array<u32, TM>();
  for (var r = 0u; r < TM; r++) { wcol[r] = min(c0 + r, p.c - 1u) * taps; }

  var acc = array<f32, TM * TN>();
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      var goff = array<u32, TN>();
      var inside = array<bool, TN>();
      for (var q = 0u; q < TN; q++) {
        let ny = ny0[q] - i32(ky);
        let nx = nx0[q] - i32(kx);
        var ok = ny >= 0 && nx >= 0;
        var oy = u32(max(ny, 0));
        var ox = u32(max(nx, 0));
        if (p.sh != 1u) { ok = ok && oy % p.sh == 0u; oy = oy / p.sh; }
        if (p.sw != 1u) { ok = ok && ox % p.sw == 0u; ox = ox / p.sw; }
        ok = ok && oy < p.oh && ox < p.ow;
        goff[q] = select(0u, gbase[q] + oy * p.ow + ox, ok);
        inside[q] = ok;
      }
      let tap = ky * p.kw + kx;
      for (var oc = 0u; oc < p.o; oc++) {
        var gv = array<f32, TN>();
        for (var q = 0u; q < TN; q++) { gv[q] = select(0.0, x[goff[q] + oc * ohw], inside[q]); }
        for (var r = 0u; r < TM; r++) {
          let wv = wt[(oc * p.c) * taps + wcol[r] + tap];
          for (var q = 0u; q < TN; q++) { acc[r * TN + q] = fma(wv, gv[q], acc[r * TN + q]); }
        }
      }
    }
  }

  let hw = p.h * p.w;
  for (var r = 0u; r < TM; r++) {
    let ci = c0 + r;
    if (ci >= p.c) { break; }
    for (var q = 0u; q < TN; q++) {
      let t = q0 + q;
      if (t >= pixels) { break; }
      y[p.y_off + ((t / hw) * p.c + ci) * hw + t % hw] = acc[r * TN + q];
    }
  }
}

// x binds x [N,C,H,W], wt binds gy [N,O,OH,OW]; y is gw [O,C,KH,KW], columns (c, ky, kx).
@compute @workgroup_size(WGX, WGY)
fn conv2d_grad_weight(@builtin(global_invocation_id) gid: vec3u) {
  let taps = p.kh * p.kw;
  let cols = p.c * taps;
  let o0 = gid.y * TM;
  let q0 = gid.x * TN;
  if (o0 >= p.o || q0 >= cols) { return; }
  let hw = p.h * p.w;
  let ohw = p.oh * p.ow;

  var cbase = array<u32, TN>();
  var ky = array<i32, TN>();
  var kx = array<i32, TN>();
  for (var q = 0u; q < TN; q++) {
    let t = min(q0 + q, cols - 1u);
    cbase[q] = (t / taps) * hw;
    ky[q] = i32((t % taps) / p.kw) - i32(p.pt);
    kx[q] = i32(t % p.kw) - i32(p.pl);
  }

  var acc = array<f32, TM * TN>();
  for (var ni = 0u; ni < p.n; ni++) {
    let xn = p.x_off + ni * p.c * hw;
    for (var oy = 0u; oy < p.oh; oy++) {
      for (var ox = 0u; ox < p.ow; ox++) {
        var xv = array<f32, TN>();
        for (var q = 0u; q < TN; q++) {
          let iy = i32(oy * p.sh) + ky[q];
          let ix = i32(ox * p.sw) + kx[q];
          let ok = iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
          xv[q] = select(0.0, x[select(0u, xn + cbase[q] + u32(iy) * p.w + u32(ix), ok)], ok);
        }
        let g = p.wt_off + (ni * p.o) * ohw + oy * p.ow + ox;
        for (var r = 0u; r < TM; r++) {
          let gv = wt[g + min(o0 + r, p.o - 1u) * ohw];
          for (var q = 0u; q < TN; q++) { acc[r * TN + q] = fma(gv, xv[q], acc[r * TN + q]); }
        }
      }
    }
  }

  for (var r = 0u; r < TM; r++) {
    let oc = o0 + r;
    if (oc >= p.o) { break; }
    for (var q = 0u; q < TN; q++) {
      let t = q0 + q;
      if (t >= cols) { break; }
      let at = oc * cols + t;
      y[at] = select(0.0, y[at], p.accumulate != 0u) + acc[r * TN + q];
    }
  }
}
