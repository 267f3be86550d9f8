// @reconvla/siglip: the SigLIP vision tower, its image preprocessor, and the text tower.
export { parseSiglipVisionConfig, numPatches, type SiglipVisionConfig } from './config.ts';
export { SiglipVisionModel, SiglipEncoderLayer, type SiglipOutput, type SiglipLayerConfig, type InitOptions } from './model.ts';
export { SiglipTextModel, parseSiglipTextConfig, type SiglipTextConfig, type SiglipTextOutput } from './text.ts';
export { preprocessImages, resizeBilinear, type RgbImage, type PreprocessOptions } from './preprocess.ts';
export { initSiglipWeights } from './init.ts';
