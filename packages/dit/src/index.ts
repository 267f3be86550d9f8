// @reconvla/dit: the ReconVLA/ROSS diffusion denoiser and its Gaussian diffusion.
export { parseDiTConfig, numTokens, type DiTConfig } from './config.ts';
export { DiT, type DiTOptions, type InitOptions, type Trace } from './dit.ts';
export { ReconDenoiser, type VmLossInputs, type VmLossResult } from './model.ts';
export { timestepFrequencies, sinCosPosEmbed2d } from './embeddings.ts';
export { GaussianDiffusion, type DiffusionOptions, type StepOptions, type EpsModel, type PSampleResult, type DdimResult } from './diffusion/gaussian_diffusion.ts';
export { cosineBetas, linearBetas, diffusionTables, spaceTimesteps, respace, type DiffusionTables, type TableName } from './diffusion/schedule.ts';
