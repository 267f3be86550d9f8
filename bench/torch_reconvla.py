# PyTorch peer of the `reconvla` bench family (bench/reconvla.ts): a plain torch module of the
# same shapes as the TypeScript ReconVLA, written before the reviewed twin (python/reconvla_twin)
# landed; the twin now times the step too (bench/torch_reconvla_twin.py), and this module stays
# the policy call's peer (KV-cache decoding, as ours): SigLIP tower (layers up to select_layer), mlp2x_gelu
# projector, fourier state projection, the splice by gather rows, Qwen2 (RMSNorm, RoPE, GQA,
# SwiGLU, tied head), the frozen VAE encoder of the gaze target, ln_pre + DiT (adaLN per token)
# with the cosine-schedule q_sample and epsilon MSE. The sequence (gather rows, labels, mask,
# image positions) is the one bench/reconvla_model.ts planned, passed as JSON.
#
# Times, like the TypeScript side: one training step = forward (lm + vm loss), backward,
# clip_grad_norm_, one read of loss and norm, AdamW step; one policy call = prefill of the
# generation prompt with a KV cache, then chunk x action_dim greedy tokens over the action ids,
# each read back (.item()). 1 warm-up, then the median of runs.
#   /usr/bin/python3 bench/torch_reconvla.py inputs.json   (prints one JSON line)
import ctypes, json, math, os, statistics, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(os.environ.get('TORCH_THREADS', '0'))
if threads > 0:
    torch.set_num_threads(threads)
torch.manual_seed(0)


# ---- the parts ----

def attention(q, k, v, scale, mask=None):
    # Debian's torch 1.13 has no F.scaled_dot_product_attention: the unfused form.
    s = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        s = s + mask
    return torch.softmax(s, dim=-1) @ v


class SiglipLayer(nn.Module):
    def __init__(s, d, mlp, heads, eps):
        super().__init__()
        s.h = heads
        s.layer_norm1, s.layer_norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        s.q, s.k, s.v, s.o = (nn.Linear(d, d) for _ in range(4))
        s.fc1, s.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)

    def forward(s, x):
        n, t, d = x.shape
        h = s.layer_norm1(x)
        split = lambda y: y.reshape(n, t, s.h, d // s.h).transpose(1, 2)
        a = attention(split(s.q(h)), split(s.k(h)), split(s.v(h)), (d // s.h) ** -0.5)
        x = x + s.o(a.transpose(1, 2).reshape(n, t, d))
        return x + s.fc2(F.gelu(s.fc1(s.layer_norm2(x)), approximate='tanh'))


class Siglip(nn.Module):
    def __init__(s, c, layers_used):
        super().__init__()
        d, p = c['hidden_size'], c['patch_size']
        s.patch = nn.Conv2d(c['num_channels'], d, p, stride=p)
        s.pos = nn.Embedding((c['image_size'] // p) ** 2, d)
        s.layers = nn.ModuleList(SiglipLayer(d, c['intermediate_size'], c['num_attention_heads'], c['layer_norm_eps']) for _ in range(layers_used))

    def forward(s, px):
        h = s.patch(px).flatten(2).transpose(1, 2) + s.pos.weight
        for l in s.layers:
            h = l(h)
        return h


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


class RMSNorm(nn.Module):
    def __init__(s, d, eps):
        super().__init__()
        s.weight, s.eps = nn.Parameter(torch.ones(d)), eps

    def forward(s, x):
        return s.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + s.eps))


class Qwen2Layer(nn.Module):
    def __init__(s, c):
        super().__init__()
        d, s.h, s.kv = c['hidden_size'], c['num_attention_heads'], c['num_key_value_heads']
        s.hd = d // s.h
        s.input_layernorm, s.post_attention_layernorm = RMSNorm(d, c['rms_norm_eps']), RMSNorm(d, c['rms_norm_eps'])
        s.q_proj, s.k_proj, s.v_proj = nn.Linear(d, d), nn.Linear(d, s.kv * s.hd), nn.Linear(d, s.kv * s.hd)
        s.o_proj = nn.Linear(d, d, bias=False)
        m = c['intermediate_size']
        s.gate_proj, s.up_proj, s.down_proj = nn.Linear(d, m, bias=False), nn.Linear(d, m, bias=False), nn.Linear(m, d, bias=False)

    def forward(s, x, cos, sin, mask, cache=None):
        b, t, d = x.shape
        h = s.input_layernorm(x)
        q = rope(s.q_proj(h).reshape(b, t, s.h, s.hd).transpose(1, 2), cos, sin)
        k = rope(s.k_proj(h).reshape(b, t, s.kv, s.hd).transpose(1, 2), cos, sin)
        v = s.v_proj(h).reshape(b, t, s.kv, s.hd).transpose(1, 2)
        if cache is not None:
            if cache:
                k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
            cache[:] = [k, v]
        rep = s.h // s.kv
        a = attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1), s.hd ** -0.5, mask)
        x = x + s.o_proj(a.transpose(1, 2).reshape(b, t, d))
        h = s.post_attention_layernorm(x)
        return x + s.down_proj(F.silu(s.gate_proj(h)) * s.up_proj(h))


class Qwen2(nn.Module):
    def __init__(s, c):
        super().__init__()
        s.c = c
        s.embed_tokens = nn.Embedding(c['vocab_size'], c['hidden_size'])
        nn.init.normal_(s.embed_tokens.weight, 0, 0.02)
        s.layers = nn.ModuleList(Qwen2Layer(c) for _ in range(c['num_hidden_layers']))
        s.norm = RMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def rotary(s, pos):
        hd = s.c['hidden_size'] // s.c['num_attention_heads']
        inv = 1.0 / (s.c['rope_theta'] ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        f = pos[:, None].float() * inv[None]
        emb = torch.cat([f, f], -1)
        return emb.cos(), emb.sin()

    def forward(s, x, mask, past=0, caches=None):
        t = x.shape[1]
        cos, sin = s.rotary(torch.arange(past, past + t))
        for i, l in enumerate(s.layers):
            x = l(x, cos, sin, mask, None if caches is None else caches[i])
        return s.norm(x)


class Resnet(nn.Module):
    def __init__(s, i, o, g):
        super().__init__()
        s.n1, s.c1, s.n2, s.c2 = nn.GroupNorm(g, i, eps=1e-6), nn.Conv2d(i, o, 3, padding=1), nn.GroupNorm(g, o, eps=1e-6), nn.Conv2d(o, o, 3, padding=1)
        s.sc = nn.Conv2d(i, o, 1) if i != o else None

    def forward(s, x):
        y = s.c2(F.silu(s.n2(s.c1(F.silu(s.n1(x))))))
        return (s.sc(x) if s.sc is not None else x) + y


class VaeAttention(nn.Module):
    def __init__(s, c, g):
        super().__init__()
        s.gn, s.q, s.k, s.v, s.o = nn.GroupNorm(g, c, eps=1e-6), nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)

    def forward(s, x):
        b, c, h, w = x.shape
        t = s.gn(x).reshape(b, c, h * w).transpose(1, 2)
        a = attention(s.q(t)[:, None], s.k(t)[:, None], s.v(t)[:, None], c ** -0.5)[:, 0]
        return x + s.o(a).transpose(1, 2).reshape(b, c, h, w)


class VaeEncoder(nn.Module):
    def __init__(s, c):
        super().__init__()
        ch, g = c['block_out_channels'], c['norm_num_groups']
        s.conv_in = nn.Conv2d(c['in_channels'], ch[0], 3, padding=1)
        blocks, prev = [], ch[0]
        for i, o in enumerate(ch):
            blocks += [Resnet(prev if j == 0 else o, o, g) for j in range(c['layers_per_block'])]
            if i < len(ch) - 1:
                blocks.append(nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(o, o, 3, stride=2)))
            prev = o
        s.down = nn.Sequential(*blocks)
        s.mid = nn.Sequential(Resnet(prev, prev, g), VaeAttention(prev, g), Resnet(prev, prev, g))
        s.norm_out, s.conv_out = nn.GroupNorm(g, prev, eps=1e-6), nn.Conv2d(prev, 2 * c['latent_channels'], 3, padding=1)

    def forward(s, x):
        return s.conv_out(F.silu(s.norm_out(s.mid(s.down(s.conv_in(x))))))


def bilinear_matrix(n_in, n_out):
    # Half-pixel bilinear weights [n_out, n_in] (resize.ts: two matmuls).
    m = torch.zeros(n_out, n_in)
    for o in range(n_out):
        x = max((o + 0.5) * n_in / n_out - 0.5, 0.0)
        i0 = min(int(math.floor(x)), n_in - 1)
        i1, f = min(i0 + 1, n_in - 1), x - math.floor(x)
        m[o, i0] += 1 - f
        m[o, i1] += f
    return m


class DiTBlock(nn.Module):
    def __init__(s, d, heads, mlp, eps):
        super().__init__()
        s.h, s.eps = heads, eps
        s.qkv, s.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.fc1, s.fc2 = nn.Linear(d, mlp), nn.Linear(mlp, d)
        s.ada = nn.Linear(d, 6 * d)

    def forward(s, x, c):
        n, t, d = x.shape
        sm, cm, gm, sp, cp, gp = s.ada(F.silu(c)).chunk(6, -1)
        norm = lambda h: F.layer_norm(h, (d,), eps=s.eps)
        h = norm(x) * (1 + cm) + sm
        q, k, v = s.qkv(h).reshape(n, t, 3, s.h, d // s.h).permute(2, 0, 3, 1, 4)
        x = x + gm * s.proj(attention(q, k, v, (d // s.h) ** -0.5).transpose(1, 2).reshape(n, t, d))
        h = norm(x) * (1 + cp) + sp
        return x + gp * s.fc2(F.gelu(s.fc1(h), approximate='tanh'))


class DiT(nn.Module):
    def __init__(s, c):
        super().__init__()
        d = c['embed_dim']
        s.c = c
        s.x_embed = nn.Linear(c['x_channel'], d)
        s.t0, s.t2 = nn.Linear(256, d), nn.Linear(d, d)
        s.z_embed = nn.Linear(c['z_channel'], d)
        s.pos = torch.randn(1, c['n_patches'], d) * 0.02
        s.blocks = nn.ModuleList(DiTBlock(d, c['num_heads'], int(d * c['mlp_ratio']), c['norm_eps']) for _ in range(c['depth']))
        s.final_ada, s.final = nn.Linear(d, 2 * d), nn.Linear(d, c['x_channel'])
        steps = c['diffusion_steps']
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = torch.tensor([min(1 - f((i + 1) / steps) / f(i / steps), 0.999) for i in range(steps)], dtype=torch.float64)
        ab = torch.cumprod(1 - betas, 0)
        s.sqrt_ab, s.sqrt_1mab = ab.sqrt().float(), (1 - ab).sqrt().float()

    def forward(s, x, t, z):
        n, c, h, w = x.shape
        d = s.c['embed_dim']
        freqs = torch.exp(-math.log(10000) * torch.arange(128, dtype=torch.float32) / 128)
        a = t.float()[:, None] * freqs[None]
        temb = s.t2(F.silu(s.t0(torch.cat([a.cos(), a.sin()], -1))))
        cond = temb[:, None] + s.z_embed(F.silu(z))
        tok = s.x_embed(x.reshape(n, c, h * w).transpose(1, 2)) + s.pos
        for b in s.blocks:
            tok = b(tok, cond)
        shift, scale = s.final_ada(F.silu(cond)).chunk(2, -1)
        out = s.final(F.layer_norm(tok, (d,), eps=s.c['norm_eps']) * (1 + scale) + shift)
        return out.transpose(1, 2).reshape(n, c, h, w)


class ReconVLA(nn.Module):
    def __init__(s, cfg, state_features):
        super().__init__()
        s.cfg = cfg
        v = cfg['vision_config']
        sel = cfg['mm_vision_select_layer']
        s.views = len(cfg['image_views'])
        s.vision = Siglip(v, v['num_hidden_layers'] + 1 + sel if sel < 0 else sel)
        d = cfg['hidden_size']
        s.projector = nn.Sequential(nn.Linear(cfg['mm_hidden_size'], d), nn.GELU(), nn.Linear(d, d))
        s.state_proj = nn.Linear(state_features, d)
        s.lm = Qwen2(cfg)
        s.vae = VaeEncoder(cfg['vae_config']).requires_grad_(False)
        s.dit = DiT(cfg['denoiser_config'])
        img, dec = v['image_size'], cfg['decode_image_size']
        s.resize = bilinear_matrix(img, dec)
        vc = cfg['vae_config']
        s.shift, s.scale = vc['shift_factor'], vc['scaling_factor']

    def embed(s, plan, pixels, state):
        b = state.shape[0]
        d = s.cfg['hidden_size']
        feats = s.projector(s.vision(pixels)).reshape(b * s.views * s.cfg['image_embed_len'], d)
        table = torch.cat([s.lm.embed_tokens(plan['text_ids']), feats, s.state_proj(state), torch.zeros(1, d)], 0)
        return table[plan['gather']].reshape(b, plan['length'], d)

    def mask(s, plan, b):
        t = plan['length']
        causal = torch.full((t, t), -1e9).triu(1)
        pad = (1 - plan['attention_mask'].reshape(b, 1, 1, t).float()) * -1e9
        return causal + pad

    def loss(s, plan, pixels, state, target):
        b = state.shape[0]
        x = s.embed(plan, pixels, state)
        h = s.lm(x, s.mask(plan, b))
        logits = h @ s.lm.embed_tokens.weight.t()
        labels = torch.cat([plan['labels'].reshape(b, -1)[:, 1:], torch.full((b, 1), -100)], 1)
        lm = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        p = s.cfg['image_embed_len']
        recon = h[torch.arange(b)[:, None], plan['boi'][:, None] + torch.arange(p)[None]]
        with torch.no_grad():
            unit = ((target * 0.5 + 0.5) - 0.5) / 0.5
            img = s.resize @ unit.clamp(-1, 1) @ s.resize.t()
            mean, logvar = s.vae(img).chunk(2, 1)
            z = (mean + torch.exp(0.5 * logvar.clamp(-30, 20)) * torch.randn_like(mean) - s.shift) * s.scale
            n, c, hh, ww = z.shape
            x0 = z.reshape(n, c, hh // 2, 2, ww // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, c * 4, hh // 2, ww // 2)
        cond = F.layer_norm(recon, (recon.shape[-1],), eps=s.cfg['denoiser_config']['ln_pre_eps'])
        t = torch.randint(0, 1000, (b,))
        noise = torch.randn_like(x0)
        xt = s.dit.sqrt_ab[t][:, None, None, None] * x0 + s.dit.sqrt_1mab[t][:, None, None, None] * noise
        vm = ((noise - s.dit(xt, t, cond)) ** 2).mean((1, 2, 3)).mean()
        return lm + vm, lm, vm


def tensors(plan):
    return {k: (torch.tensor(v) if isinstance(v, list) else v) for k, v in plan.items()}


def timed(fn, runs):
    fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def loaded_blas():
    with open('/proc/self/maps') as f:
        paths = sorted({l.split()[-1] for l in f if os.path.basename(l.split()[-1]).startswith('libblas.so')})
    return paths[0] if paths else None


def blas_description():
    path = loaded_blas()
    if path is None:
        return '? BLAS'
    name = 'openblas' if 'openblas' in path else ('reference BLAS' if '/blas/' in path else os.path.basename(path))
    n = 1
    lib = ctypes.CDLL(path)
    if hasattr(lib, 'openblas_get_num_threads'):
        n = int(lib.openblas_get_num_threads())
    return f'{name} {n} BLAS thread{"" if n == 1 else "s"}'


def main():
    inp = json.load(open(sys.argv[1]))
    cfg, bsz = inp['config'], inp['batch_size']
    runs = int(os.environ.get('TORCH_PEER_RUNS', '7'))
    model = ReconVLA(cfg, inp['state_features'])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0)
    v = cfg['vision_config']
    views = len(cfg['image_views'])
    train = tensors(inp['train'])
    pixels = torch.rand(bsz * views, 3, v['image_size'], v['image_size']) * 2 - 1
    target = torch.rand(bsz, 3, v['image_size'], v['image_size']) * 2 - 1
    state = torch.rand(bsz, inp['state_features']) * 2 - 1
    first = {}

    def step():
        loss, lm, vm = model.loss(train, pixels, state, target)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        vals = torch.stack([loss.detach(), lm.detach(), vm.detach(), norm]).tolist()
        opt.step()
        opt.zero_grad()
        first.setdefault('values', vals)

    gen = tensors(inp['generate'])
    lo, hi = inp['action_range']
    px1 = pixels[:views]

    @torch.no_grad()
    def policy():
        caches = [[] for _ in model.lm.layers]
        x = model.embed(gen, px1, state[:1])
        t = gen['length']
        h = model.lm(x, model.mask(gen, 1), 0, caches)
        ids = []
        for k in range(inp['new_tokens']):
            logits = h[0, -1] @ model.lm.embed_tokens.weight.t()
            ids.append(lo + int(logits[lo:hi + 1].argmax().item()))
            if k + 1 == inp['new_tokens']:
                break
            h = model.lm(model.lm.embed_tokens(torch.tensor([[ids[-1]]])), None, t + k, caches)
        return ids

    step_ms = timed(step, runs)
    policy_ms = timed(policy, runs * 3)
    name = f'pytorch {torch.__version__} cpu {torch.get_num_threads()} intra-op thread{"" if torch.get_num_threads() == 1 else "s"}, {blas_description()}'
    print(json.dumps({'name': name, 'step_ms': step_ms, 'policy_ms': policy_ms, 'first_step': first['values'],
                      'trainable_parameters': sum(p.numel() for p in params)}))


if __name__ == '__main__':
    main()
