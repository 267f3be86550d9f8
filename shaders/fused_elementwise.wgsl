// prelude: activation
// Fused chains of float32 elementwise ops: one dispatch computes a whole expression of unary,
// unaryGrad and binary ops per element (fusion.ts records the expression lazily and generates
// this kernel from it). Every operand ("leaf") is either full size (read at i) or a single
// element (read at 0: scalars are data, so one kernel serves every value); sizes divisible by 4
// read, compute and write vec4s (the formulas per component). A kernel may write
// intermediates that are still alive as extra outputs.
//
// fusion.ts replaces the two `generated` sections below and appends the `op formulas` sections
// of unary.wgsl and binary.wgsl, so the math of every op is written once. As it stands the file
// is a valid kernel that copies in0 to out0.

alias C = f32; // compute and output types of binary.wgsl's binary_op
alias O = f32;

struct Params { n: u32, _pad0: u32, _pad1: u32, _pad2: u32 }  // n: invocations (elements, or vec4s)

@group(0) @binding(0) var<uniform> p: Params;
// BEGIN generated bindings
@group(0) @binding(1) var<storage, read> in0: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
// END generated bindings

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn fused(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.n) { return; }
  // BEGIN generated body
  out0[i] = in0[i];
  // END generated body
}
