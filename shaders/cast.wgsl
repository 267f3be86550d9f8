// Dtype conversion (float32 <-> int32, float32 <-> float16), and fill with a constant bit pattern.

alias X = f32;
alias Y = i32;

struct Params { n: u32, x_base: u32, y_base: u32, start: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<X>;
@group(0) @binding(2) var<storage, read_write> y: array<Y>;
@group(0) @binding(3) var<storage, read_write> bits: array<u32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn convert(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = p.start + i;
  y[g - p.y_base] = Y(x[g - p.x_base]);
}

// Fill: x_base carries the value's 32 bits (float32 or int32 alike).
@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  bits[p.start + i - p.y_base] = p.x_base;
}

// float32 <-> float16 on packed halves (two per u32 word, element 2w in the low 16 bits), in
// integer arithmetic: exact round-to-nearest-even, overflow to inf, NaN kept quiet, subnormals
// exact. Needs no `shader-f16` (WGSL leaves f32 -> f16 rounding and overflow unspecified).
@group(0) @binding(4) var<storage, read> halves: array<u32>;

fn f32_bits_to_f16(b: u32) -> u32 {
  let sign = (b >> 16u) & 0x8000u;
  let e = (b >> 23u) & 0xffu;
  let mant = b & 0x7fffffu;
  if (e == 0xffu) { return select(sign | 0x7e00u | (mant >> 13u), sign | 0x7c00u, mant == 0u); }
  let e16 = i32(e) - 112;
  if (e16 >= 0x1f) { return sign | 0x7c00u; }
  if (e16 <= 0) {
    if (e16 < -10) { return sign; }
    let m24 = mant | 0x800000u;
    let shift = u32(14 - e16);
    var h = m24 >> shift;
    let rem = m24 & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (h & 1u) == 1u)) { h += 1u; }
    return sign | h;
  }
  var h = (u32(e16) << 10u) | (mant >> 13u);
  let rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u) == 1u)) { h += 1u; }
  return sign | h;
}

fn f16_to_f32_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  var mant = h & 0x3ffu;
  if (e == 0x1fu) { return sign | 0x7f800000u | (mant << 13u); }
  if (e == 0u) {
    if (mant == 0u) { return sign; }
    var e32 = 113u;
    loop {
      if ((mant & 0x400u) != 0u) { break; }
      mant = mant << 1u;
      e32 -= 1u;
    }
    return sign | (e32 << 23u) | ((mant & 0x3ffu) << 13u);
  }
  return sign | ((e + 112u) << 23u) | (mant << 13u);
}

// One invocation per output word: elements g, g + 1 (g = start + 2i, even) of x (f32, window
// base x_base) into word g / 2 of bits (window base y_base, in halves). n is the element count
// of this range; the last word of an odd total gets a zero high half.
@compute @workgroup_size(WG)
fn to_half(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (2u * i >= p.n) { return; }
  let g = p.start + 2u * i;
  let lo = f32_bits_to_f16(bitcast<u32>(x[g - p.x_base]));
  var hi = 0u;
  if (2u * i + 1u < p.n) { hi = f32_bits_to_f16(bitcast<u32>(x[g + 1u - p.x_base])); }
  bits[(g - p.y_base) / 2u] = lo | (hi << 16u);
}

// One invocation per element: half g of halves (window base x_base, in halves) to y (f32).
@compute @workgroup_size(WG)
fn from_half(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  let g = p.start + i;
  let word = halves[(g - p.x_base) / 2u];
  y[g - p.y_base] = bitcast<Y>(f16_to_f32_bits((word >> ((g & 1u) * 16u)) & 0xffffu));
}
