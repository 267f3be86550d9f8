// 2-D convolution (NCHW, weights [O, C, KH, KW], asymmetric padding) as an implicit GEMM: the
// im2col matrix is never built; each invocation walks its reduction (c, ky, kx) directly.
//   forward:      y[n,o,oy,ox] = bias[o] + sum_{c,ky,kx} w[o,c,ky,kx] x[n,c,oy*sh+ky-pt, ox*sw+kx-pl]
//   grad input:   one invocation per x element, summing the outputs whose window covers it
//   grad weight:  one invocation per weight, summing over n, oy, ox

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  o: u32, kh: u32, kw: u32, has_bias: u32,
  sh: u32, sw: u32, pt: u32, pl: u32,
  oh: u32, ow: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;     // x, or gy for grad input
@group(0) @binding(2) var<storage, read> wt: array<f32>;    // w, or gy for grad weight
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

override WG: u32 = 64u;

fn flat(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

@compute @workgroup_size(WG)
fn conv2d(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= p.n * p.o * p.oh * p.ow) { return; }
  let ox = t % p.ow;
  let oy = (t / p.ow) % p.oh;
  let oc = (t / (p.ow * p.oh)) % p.o;
  let ni = t / (p.ow * p.oh * p.o);
  var s = select(0.0, bias[oc], p.has_bias != 0u);
  for (var ci = 0u; ci < p.c; ci++) {
    for (var ky = 0u; ky < p.kh; ky++) {
      let iy = i32(oy * p.sh + ky) - i32(p.pt);
      if (iy < 0 || iy >= i32(p.h)) { continue; }
      for (var kx = 0u; kx < p.kw; kx++) {
        let ix = i32(ox * p.sw + kx) - i32(p.pl);
        if (ix < 0 || ix >= i32(p.w)) { continue; }
        s = fma(wt[((oc * p.c + ci) * p.kh + ky) * p.kw + kx], x[((ni * p.c + ci) * p.h + u32(iy)) * p.w + u32(ix)], s);
      }
    }
  }
  y[t] = s;
}

// x binds gy [N,O,OH,OW], wt binds w; y is gx [N,C,H,W].
@compute @workgroup_size(WG)
fn conv2d_grad_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= p.n * p.c * p.h * p.w) { return; }
  let ix = t % p.w;
  let iy = (t / p.w) % p.h;
  let ci = (t / (p.w * p.h)) % p.c;
  let ni = t / (p.w * p.h * p.c);
  var s = 0.0;
  for (var ky = 0u; ky < p.kh; ky++) {
    // oy * sh = iy + pt - ky must hold exactly.
    let ny = i32(iy + p.pt) - i32(ky);
    if (ny < 0 || u32(ny) % p.sh != 0u) { continue; }
    let oy = u32(ny) / p.sh;
    if (oy >= p.oh) { continue; }
    for (var kx = 0u; kx < p.kw; kx++) {
      let nx = i32(ix + p.pl) - i32(kx);
      if (nx < 0 || u32(nx) % p.sw != 0u) { continue; }
      let ox = u32(nx) / p.sw;
      if (ox >= p.ow) { continue; }
      for (var oc = 0u; oc < p.o; oc++) {
        s = fma(x[((ni * p.o + oc) * p.oh + oy) * p.ow + ox], wt[((oc * p.c + ci) * p.kh + ky) * p.kw + kx], s);
      }
    }
  }
  y[t] = s;
}

// x binds x [N,C,H,W], wt binds gy [N,O,OH,OW]; y is gw [O,C,KH,KW].
@compute @workgroup_size(WG)
fn conv2d_grad_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = flat(gid, nwg);
  if (t >= p.o * p.c * p.kh * p.kw) { return; }
  let kx = t % p.kw;
  let ky = (t / p.kw) % p.kh;
  let ci = (t / (p.kw * p.kh)) % p.c;
  let oc = t / (p.kw * p.kh * p.c);
  var s = 0.0;
  for (var ni = 0u; ni < p.n; ni++) {
    for (var oy = 0u; oy < p.oh; oy++) {
      let iy = i32(oy * p.sh + ky) - i32(p.pt);
      if (iy < 0 || iy >= i32(p.h)) { continue; }
      for (var ox = 0u; ox < p.ow; ox++) {
        let ix = i32(ox * p.sw + kx) - i32(p.pl);
        if (ix < 0 || ix >= i32(p.w)) { continue; }
        s = fma(wt[((ni * p.o + oc) * p.oh + oy) * p.ow + ox], x[((ni * p.c + ci) * p.h + u32(iy)) * p.w + u32(ix)], s);
      }
    }
  }
  y[t] = s;
}
