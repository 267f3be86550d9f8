# PyTorch CPU peer of bench/training.ts: the same MLP and small GPT, one full training step
# (forward, backward, AdamW, loss.item()) timed the same way (1 warm-up, median of runs).
# Prints one JSON line: {"name", "mlp_ms", "gpt_ms"}. The name says which BLAS torch loaded.
import ctypes, json, os, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)

def loaded_blas():
    # The libblas.so.3 this process really loaded (torch links it; update-alternatives picks
    # reference BLAS or OpenBLAS, and LD_LIBRARY_PATH can override that: training.ts runs this
    # script a second time against the reference BLAS when OpenBLAS is installed).
    # The mapped libblas.so.3 is the one that resolved torch's GEMM symbols (liblapack.so.3 may
    # map libopenblas too, even when the BLAS is the reference one).
    try:
        with open('/proc/self/maps') as f:
            paths = sorted({line.split()[-1] for line in f if os.path.basename(line.split()[-1]).startswith('libblas.so')})
    except OSError:
        return None
    return paths[0] if paths else None

def blas_name():
    path = loaded_blas()
    if path is None:
        return '?'
    return 'openblas' if 'openblas' in path else ('reference BLAS' if '/blas/' in path else os.path.basename(path))

def blas_threads():
    # torch.get_num_threads() is torch's own intra-op pool; the GEMMs run inside the system BLAS,
    # and OpenBLAS (libopenblas0-pthread) starts its own threads, one per core by default. Ask
    # the loaded library (ctypes opens the same already-loaded copy) how many it uses.
    path = loaded_blas()
    try:
        lib = ctypes.CDLL(path)
    except (OSError, TypeError):
        return None
    for fn in ('openblas_get_num_threads', 'bli_thread_get_num_threads', 'MKL_Get_Max_Threads'):
        if hasattr(lib, fn):
            return int(getattr(lib, fn)())
    return 1  # reference BLAS is single-threaded

def timed(step, runs):
    step()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)

def mlp_step():
    dims = [512, 1024, 1024, 512]
    layers = nn.ModuleList([nn.Linear(a, b) for a, b in zip(dims, dims[1:])])
    opt = torch.optim.AdamW(layers.parameters(), lr=1e-3)
    x, y = torch.randn(256, dims[0]), torch.randn(256, dims[-1])
    def step():
        h = x
        for i, l in enumerate(layers):
            h = l(h)
            if i < len(layers) - 1: h = F.gelu(h)
        loss = F.mse_loss(h, y)
        loss.backward(); opt.step(); opt.zero_grad()
        return loss.item()
    return step

def causal_attention(q, k, v):
    # Debian's torch 1.13 has no F.scaled_dot_product_attention (2.0+): the unfused form.
    t = q.shape[-2]
    s = (q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5
    s = s.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float('-inf'))
    return torch.softmax(s, dim=-1) @ v

class Block(nn.Module):
    def __init__(s, d, h, mlp):
        super().__init__()
        s.h = h
        s.ln1, s.qkv, s.proj = nn.LayerNorm(d), nn.Linear(d, 3 * d), nn.Linear(d, d)
        s.ln2, s.fc, s.out = nn.LayerNorm(d), nn.Linear(d, mlp), nn.Linear(mlp, d)
    def forward(s, x):
        b, t, d = x.shape
        q, k, v = s.qkv(s.ln1(x)).reshape(b, t, 3, s.h, d // s.h).permute(2, 0, 3, 1, 4)
        a = causal_attention(q, k, v).permute(0, 2, 1, 3).reshape(b, t, d)
        x = x + s.proj(a)
        return x + s.out(F.gelu(s.fc(s.ln2(x))))

def gpt_step(vocab=512, d=256, heads=4, layers=4, seq=128, mlp=1024, batch=8):
    tok, pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(seq, d) * 0.02)
    blocks = nn.ModuleList([Block(d, heads, mlp) for _ in range(layers)])
    lnf, head = nn.LayerNorm(d), nn.Linear(d, vocab)
    params = [pos, *tok.parameters(), *blocks.parameters(), *lnf.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.1)
    ids, targets = torch.randint(0, vocab, (batch, seq)), torch.randint(0, vocab, (batch, seq))
    def step():
        x = tok(ids) + pos
        for b in blocks: x = b(x)
        loss = F.cross_entropy(head(lnf(x)).reshape(-1, vocab), targets.reshape(-1))
        loss.backward(); opt.step(); opt.zero_grad()
        return loss.item()
    return step

def matmul_step(n=1024):
    a, b = torch.randn(n, n), torch.randn(n, n)
    return lambda: (a @ b)[0, 0].item()

runs = int(os.environ.get('TORCH_PEER_RUNS', '5'))
# TORCH_PEER_CASES=gpt times the small GPT alone (the training family's alternating rounds).
cases = os.environ.get('TORCH_PEER_CASES', 'mlp,gpt,matmul1024').split(',')
makers = {'mlp': mlp_step, 'gpt': gpt_step, 'matmul1024': matmul_step}
times = {f'{c}_ms': timed(makers[c](), runs) for c in cases}
bt = blas_threads()  # after the GEMMs ran, so the BLAS is surely mapped
name = f'pytorch {torch.__version__} cpu {torch.get_num_threads()} intra-op threads, {blas_name()} {"?" if bt is None else bt} BLAS thread{"" if bt == 1 else "s"}'
print(json.dumps({'name': name, **times}))
