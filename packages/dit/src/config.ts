// The denoiser config: ReconVLA's flat dictionary keyed by ReconDenoiser/DiT constructor names
// (the fixtures' dit_tiny.json). Sizes come from here, never from code.

export interface DiTConfig {
  /** Latent channels C (FLUX: 16 VAE channels packed 2x2 = 64); also the output channels. */
  xChannel: number;
  /** Condition width Cz: the LLM hidden size. */
  zChannel: number;
  /** DiT width D. */
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  /** Latent grid side h = w (the grid is square, as upstream's pos-embed and unpatchify assume). */
  inputSize: number;
  /** Size of the sinusoidal timestep features fed to t_embedder (256 upstream). */
  frequencyEmbeddingSize: number;
  maxPeriod: number;
  /** eps of ln_pre, the affine-free LayerNorm applied to the LLM tokens (1e-5). */
  lnPreEps: number;
  /** eps of the affine-free LayerNorms inside the DiT (1e-6). */
  normEps: number;
  diffusionSteps: number;
  noiseSchedule: 'cosine' | 'linear';
  /** The respacing string of the training diffusion ("1000" = every step). */
  timesteps: string;
  /** Copies of each sample per training step (upstream repeats the batch 4x). */
  repeat: number;
  /** The eps in vm_loss's masked mean. */
  vmLossEps: number;
}

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`DiT config: "${key}" must be a number, got ${JSON.stringify(cfg[key])}`);
  return v;
}

function int(cfg: Json, key: string, fallback?: number): number {
  const v = num(cfg, key, fallback);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`DiT config: "${key}" must be a positive integer, got ${v}`);
  return v;
}

/** Parses a dit config.json object, checking that its redundant fields agree. */
export function parseDiTConfig(json: unknown): DiTConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('DiT config: expected a JSON object');
  const cfg = json as Json;
  const c: DiTConfig = {
    xChannel: int(cfg, 'x_channel'),
    zChannel: int(cfg, 'z_channel'),
    embedDim: int(cfg, 'embed_dim'),
    depth: int(cfg, 'depth'),
    numHeads: int(cfg, 'num_heads', 16), // upstream never passes it: the DiT default
    mlpRatio: num(cfg, 'mlp_ratio', 4),
    inputSize: int(cfg, 'input_size', cfg.n_patches !== undefined ? Math.round(Math.sqrt(num(cfg, 'n_patches'))) : undefined),
    frequencyEmbeddingSize: int(cfg, 'frequency_embedding_size', 256),
    maxPeriod: num(cfg, 'max_period', 10000),
    lnPreEps: num(cfg, 'ln_pre_eps', 1e-5),
    normEps: num(cfg, 'norm_eps', 1e-6),
    diffusionSteps: int(cfg, 'diffusion_steps', 1000),
    noiseSchedule: (cfg.noise_schedule ?? 'cosine') as DiTConfig['noiseSchedule'],
    timesteps: String(cfg.timesteps ?? '1000'),
    repeat: int(cfg, 'repeat', 4),
    vmLossEps: num(cfg, 'vm_loss_eps', 1e-6),
  };
  const problems: string[] = [];
  if (cfg.patch_size !== undefined && cfg.patch_size !== 1) problems.push(`patch_size ${String(cfg.patch_size)} (only 1 is supported, as upstream builds it)`);
  if (cfg.n_patches !== undefined && cfg.n_patches !== c.inputSize * c.inputSize) problems.push(`n_patches ${String(cfg.n_patches)} is not input_size^2 = ${c.inputSize ** 2}`);
  if (cfg.out_channels !== undefined && cfg.out_channels !== c.xChannel) problems.push(`out_channels ${String(cfg.out_channels)} differs from x_channel ${c.xChannel}`);
  if (cfg.learn_sigma === true) problems.push('learn_sigma true (only the fixed-variance epsilon model is supported)');
  if (cfg.model_mean_type !== undefined && cfg.model_mean_type !== 'epsilon') problems.push(`model_mean_type ${String(cfg.model_mean_type)} (only epsilon)`);
  if (cfg.model_var_type !== undefined && cfg.model_var_type !== 'fixed_large') problems.push(`model_var_type ${String(cfg.model_var_type)} (only fixed_large)`);
  if (c.noiseSchedule !== 'cosine' && c.noiseSchedule !== 'linear') problems.push(`noise_schedule ${String(cfg.noise_schedule)}`);
  if (c.embedDim % c.numHeads !== 0) problems.push(`embed_dim ${c.embedDim} is not divisible by num_heads ${c.numHeads}`);
  if (c.embedDim % 4 !== 0) problems.push(`embed_dim ${c.embedDim} must be divisible by 4 (2D sin-cos position embedding)`);
  if (c.frequencyEmbeddingSize % 2 !== 0) problems.push(`frequency_embedding_size ${c.frequencyEmbeddingSize} must be even`);
  if (problems.length) throw new Error(`DiT config: ${problems.join('; ')}`);
  return c;
}

/** Tokens per sample: the latent grid cells (patch size 1). */
export const numTokens = (c: DiTConfig): number => c.inputSize * c.inputSize;
