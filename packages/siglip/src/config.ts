// SiglipVisionConfig from a Hugging Face config.json: either a vision config itself or a full
// SiglipConfig holding one under "vision_config". transformers' defaults fill missing fields.

export interface SiglipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  /** The attention-pooling head (pooler_output); SigLIP checkpoints have it, SigLIP2-NaFlex too. */
  visionUseHead: boolean;
}

const DEFAULTS = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, num_channels: 3,
  image_size: 224, patch_size: 16, layer_norm_eps: 1e-6,
} as const;

const IGNORED = new Set(['architectures', 'model_type', 'torch_dtype', 'dtype', 'transformers_version', 'attention_dropout', 'hidden_act', 'vision_use_head', '_name_or_path', 'initializer_factor']);

type Json = Record<string, unknown>;

export function parseSiglipVisionConfig(json: unknown): SiglipVisionConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('SigLIP config: expected a JSON object');
  let cfg = json as Json;
  if (cfg.vision_config && typeof cfg.vision_config === 'object') cfg = cfg.vision_config as Json;
  const get = (key: keyof typeof DEFAULTS): number => {
    const v = cfg[key] ?? DEFAULTS[key];
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`SigLIP config: "${key}" must be a positive number, got ${JSON.stringify(cfg[key])}`);
    return v;
  };
  const c: SiglipVisionConfig = {
    hiddenSize: get('hidden_size'), intermediateSize: get('intermediate_size'), numHiddenLayers: get('num_hidden_layers'),
    numAttentionHeads: get('num_attention_heads'), numChannels: get('num_channels'), imageSize: get('image_size'),
    patchSize: get('patch_size'), layerNormEps: get('layer_norm_eps'), visionUseHead: cfg.vision_use_head !== false,
  };
  const problems: string[] = [];
  const unknown = Object.keys(cfg).filter((k) => !(k in DEFAULTS) && !IGNORED.has(k));
  if (unknown.length) problems.push(`unknown fields ${unknown.map((k) => `"${k}"`).join(', ')}`);
  if (cfg.hidden_act !== undefined && cfg.hidden_act !== 'gelu_pytorch_tanh') problems.push(`hidden_act "${String(cfg.hidden_act)}" (only "gelu_pytorch_tanh")`);
  if (c.hiddenSize % c.numAttentionHeads !== 0) problems.push(`hidden_size ${c.hiddenSize} is not divisible by num_attention_heads ${c.numAttentionHeads}`);
  // The stride-patch conv drops the remainder: so400m-patch14-384 has 384 = 27 * 14 + 6, so 27 x 27 patches.
  if (c.patchSize > c.imageSize) problems.push(`patch_size ${c.patchSize} is larger than image_size ${c.imageSize}`);
  if (problems.length) throw new Error(`SigLIP config: ${problems.join('; ')}`);
  return c;
}

/** Patches per image: (image_size // patch_size)^2, as transformers computes it (the conv drops the remainder). */
export const numPatches = (c: SiglipVisionConfig): number => Math.floor(c.imageSize / c.patchSize) ** 2;
