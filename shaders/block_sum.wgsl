// Sums in blocks of 16 terms added to the total, shared by the row kernels (softmax, normalize,
// cross_entropy: a file whose first line is `// prelude: block_sum` is compiled after this one).
// One invocation may sum a whole long row (a 150k-column vocabulary row), and a plain running
// f32 sum drifts with the row length: a 228-column log-softmax gradient missed the CPU reference
// by 1.2x its tolerance that way. A valid WGSL module on its own (declarations only).

struct BlockSum { total: f32, block: f32, k: u32 }

fn block_add(s: ptr<function, BlockSum>, v: f32) {
  (*s).block += v;
  (*s).k++;
  if ((*s).k == 16u) { (*s).total += (*s).block; (*s).block = 0.0; (*s).k = 0u; }
}

fn block_total(s: BlockSum) -> f32 { return s.total + s.block; }
