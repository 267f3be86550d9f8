// Every op of the tensor layer, as plain functions (the Tensor methods forward here).
export * from './elementwise.ts';
export * from './layout.ts';
export * from './reduce.ts';
export * from './indexing.ts';
export * from './linalg.ts';
export * from './softmax.ts';
export * from './normalization.ts';
export * from './loss.ts';
export * from './attention.ts';
export * from './rotary.ts';
export * from './conv.ts';
export * from './creation.ts';
export * from './random.ts';
export * from './diffusion.ts';
