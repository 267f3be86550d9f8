// AutoencoderKL config: diffusers' config.json (constructor names), with diffusers' defaults.

export interface VaeConfig {
  inChannels: number;
  outChannels: number;
  latentChannels: number;
  blockOutChannels: number[];
  layersPerBlock: number;
  normNumGroups: number;
  sampleSize: number;
  scalingFactor: number;
  /** Subtracted before scaling (FLUX: 0.1159); 0 when the config has null. */
  shiftFactor: number;
  useQuantConv: boolean;
  usePostQuantConv: boolean;
  midBlockAddAttention: boolean;
}

const IGNORED = new Set(['_class_name', '_diffusers_version', '_name_or_path', 'force_upcast', 'latents_mean', 'latents_std', 'act_fn', 'down_block_types', 'up_block_types']);
const KNOWN = new Set(['in_channels', 'out_channels', 'latent_channels', 'block_out_channels', 'layers_per_block', 'norm_num_groups', 'sample_size',
  'scaling_factor', 'shift_factor', 'use_quant_conv', 'use_post_quant_conv', 'mid_block_add_attention']);

type Json = Record<string, unknown>;

export function parseVaeConfig(json: unknown): VaeConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('VAE config: expected a JSON object');
  const cfg = json as Json;
  const problems: string[] = [];
  const int = (key: string, fallback: number): number => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) { problems.push(`"${key}" must be a positive integer, got ${JSON.stringify(cfg[key])}`); return fallback; }
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'boolean') { problems.push(`"${key}" must be a boolean, got ${JSON.stringify(v)}`); return fallback; }
    return v;
  };
  const boc = cfg.block_out_channels ?? [64];
  const blockOutChannels = Array.isArray(boc) && boc.every((x) => Number.isInteger(x) && x > 0) ? (boc as number[]) : (problems.push(`"block_out_channels" must be a list of positive integers, got ${JSON.stringify(boc)}`), [64]);
  const c: VaeConfig = {
    inChannels: int('in_channels', 3),
    outChannels: int('out_channels', 3),
    latentChannels: int('latent_channels', 4),
    blockOutChannels,
    layersPerBlock: int('layers_per_block', 1),
    normNumGroups: int('norm_num_groups', 32),
    sampleSize: int('sample_size', 32),
    scalingFactor: typeof cfg.scaling_factor === 'number' ? cfg.scaling_factor : 0.18215,
    shiftFactor: typeof cfg.shift_factor === 'number' ? cfg.shift_factor : 0,
    useQuantConv: bool('use_quant_conv', true),
    usePostQuantConv: bool('use_post_quant_conv', true),
    midBlockAddAttention: bool('mid_block_add_attention', true),
  };
  const unknown = Object.keys(cfg).filter((k) => !KNOWN.has(k) && !IGNORED.has(k));
  if (unknown.length) problems.push(`unknown fields ${unknown.map((k) => `"${k}"`).join(', ')}`);
  if (cfg.act_fn !== undefined && cfg.act_fn !== 'silu') problems.push(`act_fn "${String(cfg.act_fn)}" (only "silu")`);
  const types = (key: string, want: string): void => {
    const v = cfg[key];
    if (v === undefined) return;
    if (!Array.isArray(v) || v.length !== blockOutChannels.length || v.some((x) => x !== want)) problems.push(`"${key}" must be ${blockOutChannels.length} x "${want}", got ${JSON.stringify(v)}`);
  };
  types('down_block_types', 'DownEncoderBlock2D');
  types('up_block_types', 'UpDecoderBlock2D');
  for (const ch of blockOutChannels) if (ch % c.normNumGroups !== 0) problems.push(`block_out_channels ${ch} is not divisible by norm_num_groups ${c.normNumGroups}`);
  if (problems.length) throw new Error(`VAE config: ${problems.join('; ')}`);
  return c;
}
