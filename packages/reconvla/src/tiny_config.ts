// The tiny model that trains on a 2-core machine in minutes: the golden fixture's shapes (SigLIP
// 32x32 patch 8 -> 4x4 = 16 image tokens, Qwen2 2 layers d64, VAE [16, 32], DiT d64 depth 2),
// with a word-level vocabulary instead of Qwen2's 151k BPE ids: ids 0-4 are specials, then one id
// per word, and the top n_bins ids are the action tokens.
import { FIRST_WORD_ID, type CameraView, type Json, type StateEncoding } from './config.ts';
import { WORD_SPECIALS } from './word_tokenizer.ts';

export interface TinyConfigOptions {
  /** The instruction vocabulary (WordTokenizer.vocabularyOf the training and evaluation texts). */
  words: string[];
  /** [min, max] of each robot-state dimension, mapped to [-1, 1]. */
  stateRange: { min: number[]; max: number[] };
  actionDim?: number;
  /** Actions per answer (default 2). */
  actionChunk?: number;
  /** Action bins (default 256, upstream's). */
  nBins?: number;
  ablation?: { recon?: boolean; recon_target?: 'gaze' | 'full'; unfreeze_vision_tower?: boolean; freeze_projector?: boolean };
  layout?: 'instr-image-instr' | 'image-instr' | 'instr-image';
  /** Cameras, each its own 16 image tokens (default ['static']; upstream sees both). */
  views?: CameraView[];
  /** 'bins' (upstream, default), 'linear' or 'fourier' (one projected state token). */
  stateEncoding?: StateEncoding;
  /** The task kinds the run trains on (evaluation defaults to them); null/absent: all. */
  tasks?: string[] | null;
  /** Noise draws per sample in the diffusion loss (upstream 4; fewer is cheaper per step). */
  denoiserRepeat?: number;
  /** The LLM's width and depth (default 64 and 2, the golden fixture's); the MLP is 2.75x wide, heads of 16. */
  llmWidth?: number;
  llmLayers?: number;
  /** The vision tower's patch side on its 32x32 input (default 8: 4x4 = 16 tokens per view; 4 gives 8x8 = 64, averaged 2x2 for the DiT). */
  patchSize?: number;
  /**
   * Explicit grounding: the answer starts with the gaze box centre before the actions: true or
   * 'first' in the first view (2 tokens), 'all' in every view (2 x views); default false.
   */
  grounding?: boolean | 'first' | 'all';
  /** Ordered bin embeddings (ours, bin_features.ts): Fourier bands of each bin id's value; 0 or absent: upstream's plain rows. */
  binFeatures?: number;
  /** The locator (ours, locator.ts): instruction-conditioned keypoints added to the state token (default off). */
  locator?: boolean;
  /** The locator frozen outside its own stage (default false). */
  freezeLocator?: boolean;
}

export function tinyConfigJson(o: TinyConfigOptions): Json {
  const nBins = o.nBins ?? 256;
  // Room for the specials, the words and the action bins, rounded up to a multiple of 64.
  const vocab = Math.ceil((FIRST_WORD_ID + o.words.length + nBins) / 64) * 64;
  const hidden = o.llmWidth ?? 64, grid = 4; // the DiT's grid (the gaze crop's packed latent)
  const patch = o.patchSize ?? 8;
  if (![2, 4, 8].includes(patch)) throw new Error(`tinyConfigJson: patchSize ${patch} must be 8, 4 or 2 (a multiple of the DiT's 4x4 grid on 32x32 images)`);
  const imageGrid = 32 / patch;
  if (hidden % 16 !== 0) throw new Error(`tinyConfigJson: llmWidth ${hidden} must be a multiple of 16 (heads of 16)`);
  return {
    architectures: ['ReconQwen2ForCausalLM'], model_type: 'recon_qwen2',
    vocab_size: vocab, hidden_size: hidden, intermediate_size: Math.round(hidden * 2.75), num_hidden_layers: o.llmLayers ?? 2,
    num_attention_heads: hidden / 16, num_key_value_heads: (hidden / 16) % 2 === 0 ? hidden / 32 : hidden / 16, // GQA 2:1 as Qwen2
    hidden_act: 'silu', max_position_embeddings: 256, rms_norm_eps: 1e-6, tie_word_embeddings: true, rope_theta: 1e6,
    bos_token_id: null, eos_token_id: WORD_SPECIALS.end, pad_token_id: WORD_SPECIALS.pad, torch_dtype: 'float32',
    mm_vision_tower: 'siglip (tiny)', mm_hidden_size: 48, mm_projector_type: 'mlp2x_gelu', mm_vision_select_layer: -2,
    mm_vision_select_feature: 'patch', mm_patch_merge_type: 'flat', mm_pixel_decoder: 'AutoencoderKL (tiny, FLUX-style)',
    mm_inv_projector_type: 'denoiser_vit2x', recon_enable: o.ablation?.recon ?? true,
    image_embed_len: imageGrid * imageGrid, decode_image_size: 16, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5],
    vision_config: {
      model_type: 'siglip_vision_model', hidden_size: 48, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4,
      num_channels: 3, image_size: 32, patch_size: patch, hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6, vision_use_head: false,
    },
    vae_config: {
      _class_name: 'AutoencoderKL', act_fn: 'silu', block_out_channels: [16, 32], down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
      up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'], in_channels: 3, out_channels: 3, latent_channels: 4, layers_per_block: 1,
      mid_block_add_attention: true, norm_num_groups: 8, sample_size: 16, scaling_factor: 0.3611, shift_factor: 0.1159,
      use_post_quant_conv: false, use_quant_conv: false,
    },
    denoiser_config: {
      _class_name: 'ReconDenoiser', x_channel: 16, z_channel: hidden, embed_dim: 64, depth: 2, num_heads: 4, mlp_ratio: 4, patch_size: 1,
      input_size: grid, n_patches: grid * grid, out_channels: 16, learn_sigma: false, ln_pre_eps: 1e-5, norm_eps: 1e-6,
      diffusion_steps: 1000, noise_schedule: 'cosine', model_mean_type: 'epsilon', model_var_type: 'fixed_large', timesteps: '1000', repeat: o.denoiserRepeat ?? 4,
      vm_loss_eps: 1e-6,
    },
    action_tokenizer: { n_bins: nBins, min_action: -1, max_action: 1, use_norm_bins: false, vocab_size: vocab },
    prompt: {
      image_token_index: -200, ignore_index: -100, pad_token_id: WORD_SPECIALS.pad, end_token_id: WORD_SPECIALS.end,
      colon_token_id: WORD_SPECIALS.colon, assistant_token_id: WORD_SPECIALS.assistant, state_dim: o.stateRange.min.length,
      action_dim: o.actionDim ?? 7, action_chunk: o.actionChunk ?? 2, layout: o.layout ?? 'instr-image-instr',
      state_encoding: o.stateEncoding ?? 'bins', state_token_index: -201, ...(o.grounding ? { grounding_tokens: o.grounding === 'all' ? 2 * (o.views?.length ?? 1) : 2 } : {}),
      ...(o.binFeatures ? { bin_fourier_bands: o.binFeatures } : {}),
    },
    image_views: o.views ?? ['static'],
    tasks: o.tasks ?? null,
    ablation: {
      recon: o.ablation?.recon ?? true, recon_target: o.ablation?.recon_target ?? 'gaze',
      unfreeze_vision_tower: o.ablation?.unfreeze_vision_tower ?? false, freeze_projector: o.ablation?.freeze_projector ?? false,
    },
    word_tokenizer: { words: o.words },
    state_range: o.stateRange,
    ...(o.locator ? { locator: { channels: 32, keypoints: 4, loss_weight: 1, freeze: o.freezeLocator ?? false, fourier_bands: 6 } } : {}),
  };
}
