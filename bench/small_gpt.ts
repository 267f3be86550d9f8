// The small GPT of the training bench, from @reconvla/core's F.linear / F.layerNorm /
// F.scaledDotProductAttention / F.crossEntropy: pre-LN blocks, GELU MLP, learned positions,
// untied head. bench/torch_peer.py builds the same shapes in PyTorch.
import { F, nn, type Tensor } from '../packages/core/src/index.ts';

export interface GptConfig { vocab: number; dModel: number; heads: number; layers: number; seq: number; mlp: number }

export const SMALL_GPT: GptConfig = { vocab: 512, dModel: 256, heads: 4, layers: 4, seq: 128, mlp: 1024 };

class Block extends nn.Module {
  ln1: nn.LayerNorm; qkv: nn.Linear; proj: nn.Linear; ln2: nn.LayerNorm; fc: nn.Linear; out: nn.Linear;
  constructor(private cfg: GptConfig) {
    super();
    this.ln1 = this.registerModule('ln1', new nn.LayerNorm(cfg.dModel));
    this.qkv = this.registerModule('qkv', new nn.Linear(cfg.dModel, 3 * cfg.dModel));
    this.proj = this.registerModule('proj', new nn.Linear(cfg.dModel, cfg.dModel));
    this.ln2 = this.registerModule('ln2', new nn.LayerNorm(cfg.dModel));
    this.fc = this.registerModule('fc', new nn.Linear(cfg.dModel, cfg.mlp));
    this.out = this.registerModule('out', new nn.Linear(cfg.mlp, cfg.dModel));
  }

  forward(x: Tensor): Tensor {
    const [b, t, d] = x.shape as [number, number, number];
    const h = this.cfg.heads, hd = d / h;
    // [B, T, 3, H, hd] -> three [B, H, T, hd]
    const qkv = this.qkv.forward(this.ln1.forward(x)).reshape(b, t, 3, h, hd).permute(2, 0, 3, 1, 4);
    const [q, k, v] = [0, 1, 2].map((i) => qkv.slice(0, i, i + 1).reshape(b, h, t, hd)) as [Tensor, Tensor, Tensor];
    const att = F.scaledDotProductAttention(q, k, v, { causal: true }).permute(0, 2, 1, 3).reshape(b, t, d);
    x = x.add(this.proj.forward(att));
    return x.add(this.out.forward(this.fc.forward(this.ln2.forward(x), 'gelu_erf')));
  }
}

export class SmallGpt extends nn.Module {
  tok: nn.Embedding; pos: Tensor; blocks: Block[]; lnF: nn.LayerNorm; head: nn.Linear;
  constructor(readonly cfg: GptConfig) {
    super();
    this.tok = this.registerModule('tok', new nn.Embedding(cfg.vocab, cfg.dModel));
    this.pos = this.registerParameter('pos', F.randn([cfg.seq, cfg.dModel]).mul(0.02));
    this.blocks = Array.from({ length: cfg.layers }, (_, i) => this.registerModule(`block${i}`, new Block(cfg)));
    this.lnF = this.registerModule('lnF', new nn.LayerNorm(cfg.dModel));
    this.head = this.registerModule('head', new nn.Linear(cfg.dModel, cfg.vocab));
  }

  /** Mean next-token cross-entropy of ids [B, T] against targets [B, T]. */
  loss(ids: Tensor, targets: Tensor): Tensor {
    let x = this.tok.forward(ids).add(this.pos);
    for (const b of this.blocks) x = b.forward(x);
    const logits = this.head.forward(this.lnF.forward(x));
    return F.crossEntropy(logits.reshape(-1, this.cfg.vocab), targets.reshape(-1));
  }
}

/** Forward + backward flops of one step (6 per parameter per token in the matmuls, plus
 * causal attention: 4 T^2 d per layer forward, halved by the mask, times 3 with backward). */
export function gptStepFlops(cfg: GptConfig, batch: number): number {
  const tokens = batch * cfg.seq;
  const matmulParams = cfg.layers * (4 * cfg.dModel * cfg.dModel + 2 * cfg.dModel * cfg.mlp) + cfg.dModel * cfg.vocab;
  const attention = cfg.layers * batch * 4 * cfg.seq * cfg.seq * cfg.dModel * 0.5 * 3;
  return 6 * matmulParams * tokens + attention;
}
