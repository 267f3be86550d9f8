// @reconvla/siglip: the SigLIP vision tower and its image preprocessor.
export { parseSiglipVisionConfig, numPatches, type SiglipVisionConfig } from './config.ts';
export { SiglipVisionModel, type SiglipOutput, type InitOptions } from './model.ts';
export { preprocessImages, resizeBilinear, type RgbImage, type PreprocessOptions } from './preprocess.ts';
export { initSiglipWeights } from './init.ts';
