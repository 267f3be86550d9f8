// nn: modules and layers.
export { Module, ModuleList, StateDictError, type LoadResult } from './module.ts';
export * as init from './init.ts';
export { Linear, type LinearOptions } from './layers/linear.ts';
export { Embedding } from './layers/embedding.ts';
export { LayerNorm, type LayerNormOptions } from './layers/layer_norm.ts';
export { RMSNorm, type RMSNormOptions } from './layers/rms_norm.ts';
export { Conv2d, type Conv2dLayerOptions } from './layers/conv2d.ts';
export { GroupNorm, type GroupNormOptions } from './layers/group_norm.ts';
export { Dropout, type DropoutOptions } from './layers/dropout.ts';
export { GELU, SiLU, ReLU, Tanh, Sigmoid, Identity } from './layers/activations.ts';
export { Sequential, type UnaryModule } from './layers/sequential.ts';
