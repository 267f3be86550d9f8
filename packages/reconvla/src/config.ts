// The ReconVLA config: ReconQwen2's config.json, i.e. a Qwen2 config plus the multimodal keys
// (mm_*), with the parts' own configs nested (vision_config, vae_config, denoiser_config), the
// action tokenizer, the prompt's special ids, and our additions: the ablation switches and the
// tiny word tokenizer's vocabulary. Sizes always come from here, never from code.
import { parseDiTConfig, type DiTConfig } from '@reconvla/dit';
import { parseQwen2Config, type Qwen2Config } from '@reconvla/qwen2';
import { parseSiglipVisionConfig, type SiglipVisionConfig } from '@reconvla/siglip';
import { parseVaeConfig, type VaeConfig } from '@reconvla/vae';

export type Json = Record<string, unknown>;

export interface ActionTokenizerConfig {
  nBins: number;
  minAction: number;
  maxAction: number;
  /** The id action tokens count down from (upstream: the text tokenizer's vocab_size). */
  vocabSize: number;
}

/** Where the image sits in the prompt (an ablation; upstream is 'instr-image-instr'). */
export type PromptLayout = 'instr-image-instr' | 'image-instr' | 'instr-image';

export interface PromptConfig {
  imageTokenIndex: number;
  /** The state placeholder of the 'linear' state encoding (ours; -201). */
  stateTokenIndex: number;
  ignoreIndex: number;
  padTokenId: number;
  endTokenId: number;
  colonTokenId: number;
  assistantTokenId: number;
  stateDim: number;
  actionDim: number;
  /** Actions per answer (upstream: 5-step chunks). */
  actionChunk: number;
  layout: PromptLayout;
  /**
   * How the robot state enters the prompt: 'bins' (upstream: one action-tokenizer id per
   * dimension), 'linear' (one token, a learned linear projection of the normalised state) or
   * 'fourier' (the same token from [s, sin(2^k pi s), cos(2^k pi s)], k < stateFourierBands).
   */
  stateEncoding: StateEncoding;
  /** Frequencies per state value of the 'fourier' encoding (NeRF-style positional features). */
  stateFourierBands: number;
  /**
   * Explicit grounding (ours; the paper's Fig. 1(a) paradigm, not ReconVLA's): 0 (upstream), 2:
   * the answer starts with the gaze box's centre x, y in the first view, each in [-1, 1] as an
   * action-tokenizer bin, before the action tokens, supervised like them; or 2 x views: the centre
   * in every view, in image_views order (the gripper camera sees the target large when near it).
   */
  groundingTokens: number;
  /**
   * Ordered bin embeddings (ours; 0 = upstream's plain rows): an action-tokenizer id enters as its
   * row plus a learned projection of [v, sin(2^k pi v), cos(2^k pi v)], k < binFourierBands, of
   * the value v it stands for (bin_features.ts).
   */
  binFourierBands: number;
}

export type StateEncoding = 'bins' | 'linear' | 'fourier';

/** The camera views the model sees, each its own image through the vision tower. */
export type CameraView = 'static' | 'gripper';

/** Switches for the paper's ablations and upstream's freezing flags. */
export interface AblationConfig {
  /** recon_enable: the reconstructive (denoiser) branch and its loss; off = a plain VLA. */
  recon: boolean;
  /** What the denoiser reconstructs: the gaze crop (ReconVLA) or the whole image. */
  reconTarget: 'gaze' | 'full';
  /** unfreeze_mm_vision_tower (upstream default false). */
  unfreezeVisionTower: boolean;
  /** freeze_mm_mlp_adapter (upstream default false). */
  freezeProjector: boolean;
}

/**
 * The locator (ours, see locator.ts): an instruction-conditioned keypoint network whose points are
 * added to the state token. config.json "locator": { "channels", "keypoints", "loss_weight", "freeze", "fourier_bands" }.
 */
export interface LocatorConfig {
  /** Width of its three 3x3 convolutions. */
  channels: number;
  /** Heat maps (keypoints) per view; keypoint 0 of the first view is supervised with the gaze box centre. */
  keypoints: number;
  /** Weight of that supervision in the loss (0: the points learn from the action loss alone). */
  lossWeight: number;
  /** Its keypoint network frozen outside its own stage (train --locator-steps), as the vision tower after the vision stage; the projection into the state token still learns. */
  freeze: boolean;
  /**
   * The points enter the projection as [p, sin(2^k pi p), cos(2^k pi p)] for k < fourierBands, as the
   * 'fourier' state does (default 6); 0 feeds the raw points (e16-e22 in docs/reconvla.md).
   */
  fourierBands: number;
}

export interface ReconVLAConfig {
  llm: Qwen2Config;
  vision: SiglipVisionConfig;
  vae: VaeConfig;
  denoiser: DiTConfig;
  /** mm_hidden_size: the vision feature width. */
  mmHiddenSize: number;
  projectorType: 'mlp2x_gelu' | 'linear';
  /** mm_vision_select_layer: index into SigLIP's hidden_states (-2 upstream). */
  visionSelectLayer: number;
  /** Image tokens spliced into the prompt (one per SigLIP patch). */
  imageEmbedLen: number;
  /** Side of the image the VAE encodes as the reconstruction target. */
  decodeImageSize: number;
  imageMean: number[];
  imageStd: number[];
  actionTokenizer: ActionTokenizerConfig;
  prompt: PromptConfig;
  ablation: AblationConfig;
  /** The word vocabulary of our tiny instruction tokenizer (null: ids come from elsewhere). */
  words: string[] | null;
  /** Per-dimension [min, max] of the robot state, mapped to [-1, 1] before tokenizing. */
  stateRange: { min: number[]; max: number[] } | null;
  /**
   * image_views: the cameras, in token order (default ['static']). Each view is one image through
   * the vision tower; their tokens are concatenated, and the first view's are the recon tokens.
   */
  views: CameraView[];
  /** The task kinds the model was trained for (null: all); evaluation defaults to them. */
  tasks: string[] | null;
  /** The locator (ours), or null (upstream: none). */
  locator: LocatorConfig | null;
  /** The config.json object this was parsed from (written back by savePretrained). */
  json: Json;
}

/** Keys of the top level that are not Qwen2's. */
const MM_KEYS = new Set([
  'mm_vision_tower', 'mm_hidden_size', 'mm_projector_type', 'mm_vision_select_layer', 'mm_vision_select_feature', 'mm_patch_merge_type',
  'mm_use_im_start_end', 'mm_use_im_patch_token', 'image_aspect_ratio', 'use_mm_proj', 'mm_pixel_decoder', 'mm_inv_projector_type',
  'mm_inv_hidden_size', 'use_mm_inv_proj', 'recon_enable', 'reconstruct_image_num', 'reconstruct_image', 'image_embed_len',
  'decode_image_size', 'image_mean', 'image_std', 'tokenizer_padding_side', 'tune_mm_mlp_adapter', 'freeze_mm_mlp_adapter',
  'unfreeze_mm_vision_tower', 'vision_config', 'vae_config', 'denoiser_config', 'action_tokenizer', 'prompt', 'ablation',
  'word_tokenizer', 'state_range', 'image_views', 'tasks', 'tokenizer_model_max_length', 'mm_projector_lr', 'mm_vision_tower_lr',
  'locator',
]);

function obj(v: unknown, what: string): Json {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`ReconVLA config: "${what}" must be an object`);
  return v as Json;
}

function num(cfg: Json, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`ReconVLA config: "${key}" must be a number, got ${JSON.stringify(cfg[key])}`);
  return v;
}

const LAYOUTS: readonly PromptLayout[] = ['instr-image-instr', 'image-instr', 'instr-image'];

/** Parses the nested config.json; every inconsistency is named. */
export function parseReconVLAConfig(input: unknown): ReconVLAConfig {
  const json = obj(input, 'config');
  const llmJson: Json = {};
  for (const [k, v] of Object.entries(json)) if (!MM_KEYS.has(k)) llmJson[k] = v;
  // ReconQwen2 is a Qwen2 with extra modules: its model_type names the wrapper, not the LLM.
  if (llmJson.model_type === 'recon_qwen2') llmJson.model_type = 'qwen2';
  const llm = parseQwen2Config(llmJson);
  const vision = parseSiglipVisionConfig(obj(json.vision_config, 'vision_config'));
  const vae = parseVaeConfig(obj(json.vae_config, 'vae_config'));
  const denoiser = parseDiTConfig(obj(json.denoiser_config, 'denoiser_config'));
  const at = obj(json.action_tokenizer, 'action_tokenizer');
  const pr = obj(json.prompt, 'prompt');
  const ab = json.ablation === undefined ? {} : obj(json.ablation, 'ablation');
  const grid = Math.floor(vision.imageSize / vision.patchSize);
  const layout = (pr.layout ?? 'instr-image-instr') as PromptLayout;
  const lo = json.locator === undefined || json.locator === null ? null : obj(json.locator, 'locator');
  const c: ReconVLAConfig = {
    llm, vision, vae, denoiser,
    mmHiddenSize: num(json, 'mm_hidden_size', vision.hiddenSize),
    projectorType: (json.mm_projector_type ?? 'mlp2x_gelu') as ReconVLAConfig['projectorType'],
    visionSelectLayer: num(json, 'mm_vision_select_layer', -2),
    imageEmbedLen: num(json, 'image_embed_len', grid * grid),
    decodeImageSize: num(json, 'decode_image_size', grid * 2 ** (vae.blockOutChannels.length - 1) * 2),
    imageMean: (json.image_mean ?? [0.5, 0.5, 0.5]) as number[],
    imageStd: (json.image_std ?? [0.5, 0.5, 0.5]) as number[],
    actionTokenizer: {
      nBins: num(at, 'n_bins', 256), minAction: num(at, 'min_action', -1), maxAction: num(at, 'max_action', 1),
      vocabSize: num(at, 'vocab_size', llm.vocabSize),
    },
    prompt: {
      imageTokenIndex: num(pr, 'image_token_index', -200), stateTokenIndex: num(pr, 'state_token_index', -201), ignoreIndex: num(pr, 'ignore_index', -100),
      padTokenId: num(pr, 'pad_token_id', llm.padTokenId ?? 0), endTokenId: num(pr, 'end_token_id'),
      colonTokenId: num(pr, 'colon_token_id'), assistantTokenId: num(pr, 'assistant_token_id'),
      stateDim: num(pr, 'state_dim'), actionDim: num(pr, 'action_dim', 7), actionChunk: num(pr, 'action_chunk', 1), layout,
      stateEncoding: (pr.state_encoding ?? 'bins') as StateEncoding, stateFourierBands: num(pr, 'state_fourier_bands', 6),
      groundingTokens: num(pr, 'grounding_tokens', 0), binFourierBands: num(pr, 'bin_fourier_bands', 0),
    },
    ablation: {
      recon: (ab.recon ?? json.recon_enable ?? true) === true,
      reconTarget: (ab.recon_target ?? 'gaze') as AblationConfig['reconTarget'],
      unfreezeVisionTower: (ab.unfreeze_vision_tower ?? json.unfreeze_mm_vision_tower ?? false) === true,
      freezeProjector: (ab.freeze_projector ?? json.freeze_mm_mlp_adapter ?? false) === true,
    },
    words: json.word_tokenizer === undefined ? null : (obj(json.word_tokenizer, 'word_tokenizer').words as string[]),
    stateRange: json.state_range === undefined || json.state_range === null ? null : (json.state_range as { min: number[]; max: number[] }),
    views: (json.image_views ?? ['static']) as CameraView[],
    tasks: json.tasks === undefined || json.tasks === null ? null : (json.tasks as string[]),
    locator: lo === null ? null : { channels: num(lo, 'channels', 32), keypoints: num(lo, 'keypoints', 4), lossWeight: num(lo, 'loss_weight', 1), freeze: (lo.freeze ?? false) === true, fourierBands: num(lo, 'fourier_bands', 6) },
    json,
  };
  const problems: string[] = [];
  if (c.projectorType !== 'mlp2x_gelu' && c.projectorType !== 'linear') problems.push(`mm_projector_type "${String(c.projectorType)}" (mlp2x_gelu or linear)`);
  if (c.mmHiddenSize !== vision.hiddenSize) problems.push(`mm_hidden_size ${c.mmHiddenSize} differs from vision hidden_size ${vision.hiddenSize}`);
  if (c.imageEmbedLen !== grid * grid) problems.push(`image_embed_len ${c.imageEmbedLen} is not the ${grid}x${grid} patch grid (per view)`);
  if (!Array.isArray(c.views) || c.views.length === 0 || c.views.some((v) => v !== 'static' && v !== 'gripper') || new Set(c.views).size !== c.views.length) {
    problems.push(`image_views ${JSON.stringify(json.image_views)} (a list of distinct "static" / "gripper", e.g. ["static", "gripper"])`);
  }
  if (!['bins', 'linear', 'fourier'].includes(c.prompt.stateEncoding)) problems.push(`prompt.state_encoding "${String(c.prompt.stateEncoding)}" (bins, linear or fourier)`);
  if (!Number.isInteger(c.prompt.stateFourierBands) || c.prompt.stateFourierBands < 1) problems.push(`prompt.state_fourier_bands ${c.prompt.stateFourierBands} (a positive integer)`);
  if (!Number.isInteger(c.prompt.binFourierBands) || c.prompt.binFourierBands < 0) problems.push(`prompt.bin_fourier_bands ${c.prompt.binFourierBands} (0 for upstream's plain embedding rows, or a positive integer)`);
  if (![0, 2, 2 * c.views.length].includes(c.prompt.groundingTokens)) problems.push(`prompt.grounding_tokens ${c.prompt.groundingTokens} (0, 2 for the gaze box centre x, y in the first view, or ${2 * c.views.length} for it in each of the ${c.views.length} views)`);
  if (c.tasks !== null && (!Array.isArray(c.tasks) || c.tasks.some((t) => typeof t !== 'string'))) problems.push('tasks must be a list of task names');
  if (json.mm_vision_select_feature !== undefined && json.mm_vision_select_feature !== 'patch') problems.push('mm_vision_select_feature must be "patch" (SigLIP has no CLS token)');
  const layers = vision.numHiddenLayers + 1;
  if (c.visionSelectLayer >= layers || c.visionSelectLayer < -layers) problems.push(`mm_vision_select_layer ${c.visionSelectLayer} outside SigLIP's ${layers} hidden states`);
  if (denoiser.zChannel !== llm.hiddenSize) problems.push(`denoiser z_channel ${denoiser.zChannel} is not the LLM hidden_size ${llm.hiddenSize}`);
  // The recon tokens are the first view's image tokens, averaged onto the denoiser's grid when finer (ours: patch 4 gives 8x8 tokens for a 4x4 DiT).
  const imageGrid = Math.round(Math.sqrt(c.imageEmbedLen));
  if (imageGrid * imageGrid !== c.imageEmbedLen || imageGrid % denoiser.inputSize !== 0) problems.push(`denoiser grid ${denoiser.inputSize}^2 does not divide the ${c.imageEmbedLen} image tokens' grid`);
  if (denoiser.xChannel !== vae.latentChannels * 4) problems.push(`denoiser x_channel ${denoiser.xChannel} is not 4 x latent_channels ${vae.latentChannels} (2x2 packing)`);
  const latentSide = c.decodeImageSize / 2 ** (vae.blockOutChannels.length - 1) / 2;
  if (latentSide !== denoiser.inputSize) problems.push(`decode_image_size ${c.decodeImageSize} gives a ${latentSide} packed latent, the denoiser expects ${denoiser.inputSize}`);
  const a = c.actionTokenizer;
  if (a.vocabSize > llm.vocabSize) problems.push(`action_tokenizer.vocab_size ${a.vocabSize} exceeds the embedding rows ${llm.vocabSize}`);
  if (a.vocabSize - a.nBins < 0) problems.push(`action_tokenizer.vocab_size ${a.vocabSize} is smaller than n_bins ${a.nBins}`);
  if (!LAYOUTS.includes(layout)) problems.push(`prompt.layout "${String(layout)}" (one of ${LAYOUTS.join(', ')})`);
  if (c.ablation.reconTarget !== 'gaze' && c.ablation.reconTarget !== 'full') problems.push(`ablation.recon_target "${String(c.ablation.reconTarget)}" (gaze or full)`);
  if (c.words && c.words.length + FIRST_WORD_ID > a.vocabSize - a.nBins) problems.push(`${c.words.length} words do not fit below the action range (${a.vocabSize - a.nBins})`);
  if (c.locator) {
    const l = c.locator;
    if (!Number.isInteger(l.channels) || l.channels < 1) problems.push(`locator.channels ${l.channels} (a positive integer)`);
    if (!Number.isInteger(l.keypoints) || l.keypoints < 1) problems.push(`locator.keypoints ${l.keypoints} (a positive integer)`);
    if (!(l.lossWeight >= 0)) problems.push(`locator.loss_weight ${l.lossWeight} (0 or more)`);
    if (!Number.isInteger(l.fourierBands) || l.fourierBands < 0) problems.push(`locator.fourier_bands ${l.fourierBands} (0 or a positive integer)`);
    if (c.prompt.stateEncoding === 'bins') problems.push('locator needs a state token to add its points to: prompt.state_encoding "linear" or "fourier", not "bins"');
    if (layout === 'image-instr') problems.push('locator reads the instruction before the image: prompt.layout "instr-image-instr" or "instr-image", not "image-instr"');
    const unknownLocator = Object.keys(lo!).filter((k) => !['channels', 'keypoints', 'loss_weight', 'freeze', 'fourier_bands'].includes(k));
    if (unknownLocator.length) problems.push(`locator: unknown fields ${unknownLocator.map((k) => `"${k}"`).join(', ')} (channels, keypoints, loss_weight, freeze, fourier_bands)`);
    if (lo!.freeze !== undefined && typeof lo!.freeze !== 'boolean') problems.push(`locator.freeze ${JSON.stringify(lo!.freeze)} (true or false)`);
  }
  if (problems.length) throw new Error(`ReconVLA config: ${problems.join('; ')}`);
  return c;
}

/** Inputs of the state projection per state value: 1 ('linear') or 1 + 2 x bands ('fourier'). */
export function stateFeatureWidth(p: PromptConfig): number {
  return p.stateDim * (p.stateEncoding === 'fourier' ? 1 + 2 * p.stateFourierBands : 1);
}

/** The first id of a word in the tiny word tokenizer (ids below are the specials). */
export const FIRST_WORD_ID = 5;
