// @reconvla/vae: diffusers AutoencoderKL and FLUX latent packing.
export { parseVaeConfig, type VaeConfig } from './config.ts';
export { AutoencoderKL, Encoder, Decoder, DiagonalGaussian } from './model.ts';
export { ResnetBlock2D, VaeAttention, Downsample2D, Upsample2D, MidBlock2D, ResnetStage } from './blocks.ts';
export { packLatents, unpackLatents } from './packing.ts';
export type { InitOptions } from './init_options.ts';
