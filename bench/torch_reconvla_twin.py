# The training step of the `reconvla` bench on the reviewed PyTorch twin (python/reconvla_twin,
# load_reconvla: the same model, verified against the golden fixtures), as a second peer beside
# bench/torch_reconvla.py's plain module: the folder our savePretrained wrote (same weights), our
# collated prompts (input_ids, attention_mask, labels) and state features, random pixels and
# targets. One step = losses(batch) (lm + vm), backward, clip_grad_norm_, one read, AdamW.
# (The twin's greedy_actions re-runs the whole prompt per token, without a KV cache, so the
# policy call is timed on bench/torch_reconvla.py only.)
#   /usr/bin/python3 bench/torch_reconvla_twin.py inputs.json model_folder
import json, os, statistics, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
import torch
from reconvla_twin.reconvla import load_reconvla
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reconvla import blas_description, timed

threads = int(os.environ.get('TORCH_THREADS', '0'))
if threads > 0:
    torch.set_num_threads(threads)
torch.manual_seed(0)

inp = json.load(open(sys.argv[1]))
model = load_reconvla(sys.argv[2])
model.apply_freezing()
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0)
tb, cfg = inp['twin_batch'], inp['config']
b, t = tb['shape']
v = cfg['vision_config']
views = len(cfg['image_views'])
batch = {
    'input_ids': torch.tensor(tb['input_ids']).reshape(b, t), 'attention_mask': torch.tensor(tb['attention_mask']).reshape(b, t),
    'labels': torch.tensor(tb['labels']).reshape(b, t), 'state_values': torch.tensor(tb['state_values'], dtype=torch.float32).reshape(b, -1),
    'pixel_values': torch.rand(b * views, 3, v['image_size'], v['image_size']) * 2 - 1, 'target_images': torch.rand(b, 3, v['image_size'], v['image_size']) * 2 - 1,
}
first = {}

def step():
    l = model.losses(batch)
    l['total'].backward()
    norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    vals = torch.stack([l['total'].detach(), l['lm'].detach(), l['vm'].detach(), norm]).tolist()
    opt.step()
    opt.zero_grad()
    first.setdefault('values', vals)

step_ms = timed(step, int(os.environ.get('TORCH_PEER_RUNS', '5')))
n = torch.get_num_threads()
print(json.dumps({'name': f'pytorch twin (python/reconvla_twin) {torch.__version__} cpu {n} intra-op thread{"" if n == 1 else "s"}, {blas_description()}',
                  'step_ms': step_ms, 'first_step': first['values'], 'trainable_parameters': sum(p.numel() for p in params)}))
