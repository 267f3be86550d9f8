// config.json as a model folder stores it: every key upstream's ReconQwen2 config carries (what
// its loader and training script read: the projector, inverse-projector and recon flags, the
// image and tokenizer settings, the tune/freeze flags), our own keys in addition (nested part
// configs, action tokenizer, prompt, ablation, vocabulary), and the word tokenizer's ids, so the
// folder alone maps an instruction to ids. Upstream keys are derived from the parsed config, so
// they always agree with what the model does; keys a folder already carries are kept.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIRST_WORD_ID, type Json, type ReconVLAConfig } from './config.ts';
import { WORD_SPECIALS } from './word_tokenizer.ts';

/** The keys upstream's ReconVLA (LLaVA/Ross lineage) writes into config.json, with our values. */
export function upstreamConfigKeys(c: ReconVLAConfig): Json {
  return {
    use_mm_proj: true,
    mm_projector_type: c.projectorType,
    mm_hidden_size: c.mmHiddenSize,
    mm_vision_select_layer: c.visionSelectLayer,
    mm_vision_select_feature: 'patch',
    mm_patch_merge_type: 'flat',
    // Images are resized to the vision tower's square (the simulator renders squares); no start/end or patch tokens.
    image_aspect_ratio: 'square',
    mm_use_im_start_end: false,
    mm_use_im_patch_token: false,
    recon_enable: c.ablation.recon,
    use_mm_inv_proj: c.ablation.recon,
    // Upstream: pixel_decoder.latent_dim, the denoiser's x_channel (our 2x2-packed VAE latent).
    mm_inv_hidden_size: c.denoiser.xChannel,
    mm_inv_projector_type: c.json.mm_inv_projector_type ?? 'denoiser_vit2x',
    image_embed_len: c.imageEmbedLen,
    decode_image_size: c.decodeImageSize,
    image_mean: c.imageMean,
    image_std: c.imageStd,
    // collatePrompts pads on the right; a prompt never exceeds the position table.
    tokenizer_padding_side: 'right',
    tokenizer_model_max_length: c.llm.maxPositionEmbeddings,
    tune_mm_mlp_adapter: false,
    freeze_mm_mlp_adapter: c.ablation.freezeProjector,
    unfreeze_mm_vision_tower: c.ablation.unfreezeVisionTower,
    mm_projector_lr: null,
    mm_vision_tower_lr: null,
  };
}

/** The word tokenizer as stored: the vocabulary, the id of its first word and the special ids. */
export function wordTokenizerJson(words: readonly string[]): Json {
  return { words: [...words], first_word_id: FIRST_WORD_ID, unk_token_id: WORD_SPECIALS.unk, special_ids: { ...WORD_SPECIALS } };
}

/** The config.json object of a model folder: the parsed file's keys, upstream's keys, the word ids. */
export function reconVLAConfigToJson(c: ReconVLAConfig): Json {
  const out: Json = { ...c.json, ...upstreamConfigKeys(c) };
  if (c.words) out.word_tokenizer = { ...(c.json.word_tokenizer as Json | undefined), ...wordTokenizerJson(c.words) };
  return out;
}

/** Writes dir/config.json atomically (temp file + rename). */
export function writeConfigJson(dir: string, c: ReconVLAConfig): void {
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, 'config.json.tmp');
  fs.writeFileSync(tmp, `${JSON.stringify(reconVLAConfigToJson(c), null, 2)}\n`);
  fs.renameSync(tmp, path.join(dir, 'config.json'));
}

/**
 * A folder's stored word ids must be the ones this code assigns (an old folder without them
 * gets the defaults); a folder from another tokenizer layout is refused, naming the key.
 */
export function checkStoredWordIds(json: Json, file: string): void {
  const wt = json.word_tokenizer as Json | undefined;
  if (!wt) return;
  const problems: string[] = [];
  if (wt.first_word_id !== undefined && wt.first_word_id !== FIRST_WORD_ID) problems.push(`word_tokenizer.first_word_id ${JSON.stringify(wt.first_word_id)} (this code gives words ids from ${FIRST_WORD_ID})`);
  if (wt.unk_token_id !== undefined && wt.unk_token_id !== WORD_SPECIALS.unk) problems.push(`word_tokenizer.unk_token_id ${JSON.stringify(wt.unk_token_id)} (this code uses ${WORD_SPECIALS.unk})`);
  const specials = wt.special_ids as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(specials ?? {})) {
    if ((WORD_SPECIALS as Record<string, number>)[k] !== v) problems.push(`word_tokenizer.special_ids.${k} ${JSON.stringify(v)} (this code uses ${JSON.stringify((WORD_SPECIALS as Record<string, number>)[k])})`);
  }
  if (problems.length) throw new Error(`${file}: ${problems.join('; ')}`);
}
