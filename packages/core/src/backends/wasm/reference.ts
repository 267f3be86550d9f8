// The CPU reference kernels the wasm backend falls back to, run directly on typed-array views
// of the shared memory (ops or cases without a native kernel: see docs/wasm.md).
export { attention, attentionGrad } from '../cpu/attention.ts';
export { combineRows } from '../cpu/combine_rows.ts';
export { conv2d, conv2dGradInput, conv2dGradWeight } from '../cpu/conv2d.ts';
export { binary, unary, unaryGrad, where } from '../cpu/elementwise.ts';
export { indexAdd, indexSelect, takeAlongAxis, takeAlongAxisGrad } from '../cpu/indexing.ts';
export { reduce } from '../cpu/reduce.ts';
export { rope } from '../cpu/rope.ts';
