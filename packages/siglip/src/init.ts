// SigLIP's weight initialisation, as transformers' SiglipPreTrainedModel._init_weights does it,
// by parameter name (so it follows the checkpoint layout, not class internals):
//   position embedding       N(0, 1/width)              (PyTorch's Embedding default, N(0, 1), is
//                                                         ~4x a patch's content: the image drowns)
//   token embedding (text)   N(0, 1/width)              (default_flax_embed_init)
//   attention q/k/v/out      xavier_uniform, bias 0
//   MLP fc1/fc2              xavier_uniform, bias N(0, 1e-6)
//   patch conv, other Linear lecun_normal (truncated normal, std 1/sqrt(fan_in)), bias 0 (the text head too)
//   LayerNorm                weight 1, bias 0
//   pooling head             probe and in_proj xavier_uniform, in_proj bias 0
import { F, nn, noGrad, tidy, type Generator, type Module, type Tensor } from '@reconvla/core';

/** lecun_normal_: variance_scaling(1, fan_in, truncated_normal): N(0, 1/fan_in) cut at 2 std, rescaled. */
function lecunNormal_(p: Tensor, generator?: Generator): void {
  const { fanIn } = nn.init.fanInAndFanOut(p.shape);
  // 0.87962566103423978 is the std of a unit normal truncated to [-2, 2].
  const std = Math.sqrt(1 / fanIn) / 0.87962566103423978;
  truncatedNormal_(p, std, generator);
}

/**
 * N(0, std^2) truncated to [-2 std, 2 std]: values outside are redrawn (four rounds leave ~1e-7
 * of them, then clamped), all on the tensor's backend.
 */
function truncatedNormal_(p: Tensor, std: number, generator?: Generator): void {
  const opts = { backend: p.backend, ...(generator ? { generator } : {}) };
  tidy(() => {
    let z = nn.init.normal(p.shape, 0, 1, opts);
    for (let round = 0; round < 4; round++) z = F.where(F.gt(F.abs(z), 2), nn.init.normal(p.shape, 0, 1, opts), z);
    p.assign(F.mul(F.minimum(F.maximum(z, -2), 2), std));
  });
}

/** Re-initialises every SigLIP parameter under `prefix` (e.g. "vision_model.") as transformers does. */
export function initSiglipWeights(module: Module, generator?: Generator, prefix = ''): void {
  noGrad(() => {
    for (const [key, p] of module.namedParameters()) {
      if (!key.startsWith(prefix)) continue;
      const k = key.slice(prefix.length);
      const width = p.shape.at(-1)!;
      if (/position_embedding\.weight$/.test(k)) nn.init.normal_(p, 0, 1 / Math.sqrt(width), generator);
      else if (/token_embedding\.weight$/.test(k)) nn.init.normal_(p, 0, 1 / Math.sqrt(width), generator); // default_flax_embed_init
      else if (/(layer_norm\d?|layernorm|post_layernorm|final_layer_norm)\.weight$/.test(k)) nn.init.ones_(p);
      else if (/(layer_norm\d?|layernorm|post_layernorm|final_layer_norm)\.bias$/.test(k)) nn.init.zeros_(p);
      else if (/self_attn\.(q|k|v|out)_proj\.weight$/.test(k)) nn.init.xavierUniform_(p, 1, generator);
      else if (/self_attn\.(q|k|v|out)_proj\.bias$/.test(k)) nn.init.zeros_(p);
      else if (/mlp\.fc[12]\.weight$/.test(k)) nn.init.xavierUniform_(p, 1, generator);
      else if (/mlp\.fc[12]\.bias$/.test(k)) nn.init.normal_(p, 0, 1e-6, generator);
      else if (/head\.probe$/.test(k)) nn.init.xavierUniform_(p, 1, generator);
      else if (/attention\.in_proj_weight$/.test(k)) nn.init.xavierUniform_(p, 1, generator);
      else if (/\.bias$/.test(k)) nn.init.zeros_(p);
      else if (p.rank >= 2) lecunNormal_(p, generator);
    }
  });
}
