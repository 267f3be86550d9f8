// diffusers' VAE building blocks: ResnetBlock2D (no time embedding), the mid-block attention
// (one head over all pixels), Downsample2D (asymmetric pad + stride-2 conv), Upsample2D
// (nearest 2x + conv) and UNetMidBlock2D. GroupNorm eps is 1e-6 throughout, as the VAE builds them.
import { F, Module, ModuleList, nn, type Tensor } from '@reconvla/core';
import type { InitOptions } from './init_options.ts';

const EPS = 1e-6;

export class ResnetBlock2D extends Module {
  readonly norm1: nn.GroupNorm;
  readonly conv1: nn.Conv2d;
  readonly norm2: nn.GroupNorm;
  readonly conv2: nn.Conv2d;
  readonly conv_shortcut: nn.Conv2d | null;
  constructor(inCh: number, outCh: number, groups: number, init: InitOptions) {
    super();
    this.norm1 = this.registerModule('norm1', new nn.GroupNorm(groups, inCh, { ...init, eps: EPS }));
    this.conv1 = this.registerModule('conv1', new nn.Conv2d(inCh, outCh, 3, { ...init, padding: 1 }));
    this.norm2 = this.registerModule('norm2', new nn.GroupNorm(groups, outCh, { ...init, eps: EPS }));
    this.conv2 = this.registerModule('conv2', new nn.Conv2d(outCh, outCh, 3, { ...init, padding: 1 }));
    this.conv_shortcut = inCh !== outCh ? this.registerModule('conv_shortcut', new nn.Conv2d(inCh, outCh, 1, init)) : null;
  }
  forward(x: Tensor): Tensor {
    const h = this.conv1.forward(F.silu(this.norm1.forward(x)));
    const y = this.conv2.forward(F.silu(this.norm2.forward(h)));
    return F.add(this.conv_shortcut ? this.conv_shortcut.forward(x) : x, y);
  }
}

/** Self-attention over the H*W pixels with one head of dim C, plus the residual. */
export class VaeAttention extends Module {
  readonly group_norm: nn.GroupNorm;
  readonly to_q: nn.Linear;
  readonly to_k: nn.Linear;
  readonly to_v: nn.Linear;
  readonly to_out: nn.Linear;
  constructor(readonly channels: number, groups: number, init: InitOptions) {
    super();
    this.group_norm = this.registerModule('group_norm', new nn.GroupNorm(groups, channels, { ...init, eps: EPS }));
    this.to_q = this.registerModule('to_q', new nn.Linear(channels, channels, init));
    this.to_k = this.registerModule('to_k', new nn.Linear(channels, channels, init));
    this.to_v = this.registerModule('to_v', new nn.Linear(channels, channels, init));
    const out = this.registerModule('to_out', new Module()); // ModuleList [Linear, Dropout]
    this.to_out = out.registerModule('0', new nn.Linear(channels, channels, init));
  }
  forward(x: Tensor): Tensor {
    const [b, c, h, w] = x.shape as [number, number, number, number];
    const tokens = F.transpose(F.reshape(this.group_norm.forward(x), [b, c, h * w]), 1, 2); // [B, HW, C]
    const heads = (t: Tensor): Tensor => F.reshape(t, [b, 1, h * w, c]);
    const a = F.scaledDotProductAttention(heads(this.to_q.forward(tokens)), heads(this.to_k.forward(tokens)), heads(this.to_v.forward(tokens)), { scale: 1 / Math.sqrt(c) });
    const out = this.to_out.forward(F.reshape(a, [b, h * w, c]));
    return F.add(F.reshape(F.transpose(out, 1, 2), [b, c, h, w]), x);
  }
}

/** Zero-pad right and bottom by one, then a 3x3 stride-2 conv (diffusers' padding=0 case). */
export class Downsample2D extends Module {
  readonly conv: nn.Conv2d;
  constructor(ch: number, init: InitOptions) {
    super();
    this.conv = this.registerModule('conv', new nn.Conv2d(ch, ch, 3, { ...init, stride: 2, padding: [0, 1, 0, 1] }));
  }
  forward(x: Tensor): Tensor { return this.conv.forward(x); }
}

export class Upsample2D extends Module {
  readonly conv: nn.Conv2d;
  constructor(ch: number, init: InitOptions) {
    super();
    this.conv = this.registerModule('conv', new nn.Conv2d(ch, ch, 3, { ...init, padding: 1 }));
  }
  forward(x: Tensor): Tensor { return this.conv.forward(F.upsampleNearest2x(x)); }
}

/** resnet, attention, resnet. */
export class MidBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly attention: VaeAttention | null;
  constructor(ch: number, groups: number, addAttention: boolean, init: InitOptions) {
    super();
    this.resnets = this.registerModule('resnets', new ModuleList([new ResnetBlock2D(ch, ch, groups, init), new ResnetBlock2D(ch, ch, groups, init)]));
    this.attention = addAttention ? this.registerModule('attentions', new ModuleList([new VaeAttention(ch, groups, init)])).at(0) : null;
  }
  forward(x: Tensor): Tensor {
    let h = this.resnets.at(0).forward(x);
    if (this.attention) h = this.attention.forward(h);
    return this.resnets.at(1).forward(h);
  }
}

/** A stage: resnets, then an optional down- or upsampler (under "downsamplers.0"/"upsamplers.0"). */
export class ResnetStage extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly sampler: Downsample2D | Upsample2D | null;
  constructor(inCh: number, outCh: number, layers: number, groups: number, sampler: 'down' | 'up' | null, init: InitOptions) {
    super();
    this.resnets = this.registerModule('resnets', new ModuleList(Array.from({ length: layers }, (_, i) => new ResnetBlock2D(i === 0 ? inCh : outCh, outCh, groups, init))));
    if (sampler === 'down') this.sampler = this.registerModule('downsamplers', new ModuleList([new Downsample2D(outCh, init)])).at(0);
    else if (sampler === 'up') this.sampler = this.registerModule('upsamplers', new ModuleList([new Upsample2D(outCh, init)])).at(0);
    else this.sampler = null;
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const r of this.resnets) h = r.forward(h);
    return this.sampler ? this.sampler.forward(h) : h;
  }
}
