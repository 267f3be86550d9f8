// ReconQwen2ForCausalLM: Qwen2 at the root of the state dict, the vision tower, projector, VAE
// and denoiser under `model.` exactly as upstream names them, and the training step:
// image -> SigLIP hidden_states[select_layer] -> projector -> spliced into the prompt -> Qwen2
// -> lm_loss on the action tokens; hidden states at the image positions -> ln_pre -> DiT vs
// the VAE latent of the target (gaze) image -> vm_loss; loss = lm_loss + vm_loss.
import { F, Module, nn, noGrad, type Backend, type Generator, type Tensor } from '@reconvla/core';
import { ReconDenoiser, type VmLossResult } from '@reconvla/dit';
import { causalLMLoss, Qwen2ForCausalLM } from '@reconvla/qwen2';
import { SiglipVisionModel } from '@reconvla/siglip';
import { AutoencoderKL, packLatents, type DiagonalGaussian } from '@reconvla/vae';
import { ActionTokenizer } from './action_tokenizer.ts';
import { BinFeatures } from './bin_features.ts';
import { stateFeatureWidth, type ReconVLAConfig } from './config.ts';
import { Locator, locatorLoss } from './locator.ts';
import type { PromptBatch } from './prompt.ts';
import { resizeBilinear } from './resize.ts';
import { imagePositions, planSplice, spliceEmbeddings, type SplicePlan } from './splice.ts';

export interface InitOptions { backend?: Backend; generator?: Generator }

export interface ReconInputs {
  /** [B x views, 3, S, S] normalised with image_mean / image_std (each sample's views in order). */
  pixelValues: Tensor;
  prompts: PromptBatch;
  /** Processor.stateValues of the batch (needed by the 'linear' and 'fourier' state encodings). */
  stateValues?: Tensor;
  /** [B, 3, s, s] the reconstruction target (gaze crop), normalised like pixelValues. */
  targetImages?: Tensor;
  /** Randomness of the step; drawn from generator when omitted (upstream draws them inside). */
  posteriorNoise?: Tensor;
  t?: Tensor;
  noise?: Tensor;
  generator?: Generator;
  /** Include the action (language-model) loss (default true). */
  lmLoss?: boolean;
  /** Include the reconstruction loss (default: the config's ablation.recon). */
  vmLoss?: boolean;
  /** With a locator: the gaze box centre in the first view [B, 2] (groundingOf) and which samples have it in view. */
  locatorTarget?: { centre: Tensor; inView: Float32Array };
}

export interface VaeTarget {
  /** The un-normalised, clamped, resized image the VAE encodes [B, 3, d, d]. */
  imagesVae: Tensor;
  posterior: DiagonalGaussian;
  latentSample: Tensor;
  /** (z - shift) * scale, packed 2x2: the denoiser's x0. */
  latent: Tensor;
}

export interface ReconOutputs {
  loss: Tensor;
  lmLoss: Tensor | null;
  vmLoss: Tensor | null;
  visionHidden: Tensor;
  imageFeatures: Tensor;
  plan: SplicePlan;
  inputsEmbeds: Tensor;
  /** After the final RMSNorm, every spliced position. */
  hiddenStates: Tensor;
  logits: Tensor;
  /** Hidden states at the image positions [B, P, D] (before ln_pre). */
  reconTokens: Tensor;
  target: VaeTarget | null;
  vm: (VmLossResult & { lnPre: Tensor }) | null;
  /**
   * The locator's points [B, views, K, 2] and its weighted loss (null without a locator / target).
   * A frozen locator's loss is reported but not part of `loss`: nothing it could move is trained.
   */
  locatorPoints: Tensor | null;
  locLoss: Tensor | null;
}

/** A module with no parameters of its own that only names a child (upstream's wrappers). */
class Slot<M extends Module> extends Module {
  constructor(name: string, readonly inner: M) { super(); this.registerModule(name, inner); }
}

export class ReconVLA extends Module {
  readonly lm: Qwen2ForCausalLM;
  readonly visionTower: SiglipVisionModel;
  readonly projector: nn.Sequential;
  readonly vae: AutoencoderKL;
  readonly denoiser: ReconDenoiser;
  /** The 'linear' / 'fourier' state encoding's projection (ours: `model.state_proj`), else null. */
  readonly stateProj: nn.Linear | null;
  readonly actionTokenizer: ActionTokenizer;
  /** The instruction-conditioned keypoint network (ours: `model.locator`), or null. */
  readonly locator: Locator | null;
  /** Ordered bin embeddings (ours: `model.bin_features`, prompt.bin_fourier_bands > 0), or null. */
  readonly binFeatures: BinFeatures | null;

  constructor(readonly config: ReconVLAConfig, init: InitOptions = {}) {
    super();
    this.lm = new Qwen2ForCausalLM(config.llm, init);
    const root = this.lm.model; // ReconQwen2Model extends Qwen2Model: the extra parts live under "model."
    this.visionTower = new SiglipVisionModel(config.vision, init);
    root.registerModule('vision_tower', new Slot('vision_tower', this.visionTower));
    const d = config.llm.hiddenSize;
    this.projector = config.projectorType === 'mlp2x_gelu'
      ? new nn.Sequential(new nn.Linear(config.mmHiddenSize, d, init), new nn.GELU('none'), new nn.Linear(d, d, init))
      : new nn.Sequential(new nn.Linear(config.mmHiddenSize, d, init));
    root.registerModule('mm_projector', this.projector);
    this.vae = new AutoencoderKL(config.vae, init);
    root.registerModule('pixel_decoder', new Slot('pixel_decoder', this.vae));
    this.denoiser = new ReconDenoiser(config.denoiser, init);
    root.registerModule('mm_inv_projector', this.denoiser);
    this.stateProj = config.prompt.stateEncoding === 'bins' ? null : root.registerModule('state_proj', new nn.Linear(stateFeatureWidth(config.prompt), d, init));
    this.locator = config.locator ? root.registerModule('locator', new Locator(config.locator, config.prompt, config.llm.vocabSize, config.views.length, d, init)) : null;
    this.actionTokenizer = new ActionTokenizer(config.actionTokenizer);
    const bands = config.prompt.binFourierBands;
    this.binFeatures = bands > 0 ? root.registerModule('bin_features', new BinFeatures(this.actionTokenizer, config.llm.vocabSize, bands, d, init)) : null;
    this.registerModule('model', root);
    if (this.lm.lm_head) this.registerModule('lm_head', this.lm.lm_head);
    this.applyFreezing();
  }

  get backend(): Backend { return this.lm.lmHeadWeight.backend; }

  /** Upstream's flags: vision tower and VAE frozen, pos_embed fixed, the rest trained. */
  applyFreezing(): void {
    const { ablation } = this.config;
    this.requiresGrad_(true);
    this.visionTower.requiresGrad_(ablation.unfreezeVisionTower);
    this.vae.requiresGrad_(false);
    if (ablation.freezeProjector) this.projector.requiresGrad_(false);
    if (!ablation.recon) this.denoiser.requiresGrad_(false);
    // Ours: a locator trained in its own stage can keep its keypoints as it left them (its stage
    // unfreezes them); the projection of the points into the state token still learns.
    if (this.locator?.cfg.freeze) this.locator.freezeKeypoints();
  }

  /** The parameters the optimizer updates, by state-dict key. */
  trainableParameters(): [string, Tensor][] {
    return [...this.namedParameters()].filter(([, p]) => p.requiresGrad);
  }

  /** SigLIP hidden_states[select_layer]: embeddings then only the layers it needs. */
  visionFeatures(pixels: Tensor): Tensor {
    const run = (): Tensor => {
      const vm = this.visionTower.vision_model;
      const n = this.config.vision.numHiddenLayers, sel = this.config.visionSelectLayer;
      const upTo = sel < 0 ? n + 1 + sel : sel;
      if (pixels.shape[2] !== this.config.vision.imageSize) throw new Error(`ReconVLA: pixels [${pixels.shape.join(', ')}] must be ${this.config.vision.imageSize}x${this.config.vision.imageSize}`);
      let h = vm.embeddings.forward(pixels);
      for (let i = 0; i < upTo; i++) h = vm.layers.items[i]!.forward(h);
      return h;
    };
    return this.config.ablation.unfreezeVisionTower ? run() : noGrad(run);
  }

  /**
   * encode_images: vision features through the projector. pixels [B x views, 3, S, S], each
   * sample's views in order; features [B, views x P, D] (a sample's views side by side in tokens).
   */
  encodeImages(pixels: Tensor): { visionHidden: Tensor; imageFeatures: Tensor } {
    const views = this.config.views.length;
    const n = pixels.shape[0]!;
    if (n % views !== 0) throw new Error(`ReconVLA: ${n} images do not split into samples of ${views} views (${this.config.views.join(', ')})`);
    const visionHidden = this.visionFeatures(pixels);
    const features = this.projector.forward(visionHidden);
    const [, p, d] = features.shape as [number, number, number];
    return { visionHidden, imageFeatures: views === 1 ? features : F.reshape(features, [n / views, views * p, d]) };
  }

  /** The state placeholder's features [B, D] ('linear' / 'fourier' state encoding), or null. */
  stateFeatures(stateValues: Tensor | undefined): Tensor | null {
    if (!this.stateProj) return null;
    if (!stateValues) throw new Error(`ReconVLA: the state encoding is "${this.config.prompt.stateEncoding}": pass stateValues (Processor.stateValues)`);
    return this.stateProj.forward(stateValues);
  }

  /** The table prompt ids are embedded with: embed_tokens, plus the ordered bin features when configured. */
  inputEmbeddingTable(): Tensor {
    const table = this.lm.model.embed_tokens.weight;
    return this.binFeatures ? this.binFeatures.forward(table) : table;
  }

  /**
   * The images encoded and spliced, with the state token, into the prompts: the plan and
   * inputs_embeds [B, L, D] (what training, the policy's prefill and the pictures all start from).
   */
  embedInputs(pixelValues: Tensor, prompts: PromptBatch, stateValues?: Tensor): { visionHidden: Tensor; imageFeatures: Tensor; plan: SplicePlan; inputsEmbeds: Tensor; locatorPoints: Tensor | null } {
    const { visionHidden, imageFeatures } = this.encodeImages(pixelValues);
    const plan = planSplice(prompts, this.config.imageEmbedLen * this.config.views.length, this.config.prompt);
    let state = this.stateFeatures(stateValues), locatorPoints: Tensor | null = null;
    if (this.locator && state) {
      const located = this.locator.forward(pixelValues, prompts);
      state = F.add(state, located.features);
      locatorPoints = located.points;
    }
    const inputsEmbeds = spliceEmbeddings(plan, this.inputEmbeddingTable(), imageFeatures, state);
    return { visionHidden, imageFeatures, plan, inputsEmbeds, locatorPoints };
  }

  /**
   * The recon tokens: final hidden states at the first view's image positions [B, P, D], averaged
   * k x k onto the denoiser's grid when the image grid is k times finer (a deviation of ours: more
   * image tokens for the LLM to find small objects in, the same DiT).
   */
  reconTokens(plan: SplicePlan, hiddenStates: Tensor): Tensor {
    const all = imagePositions(plan, hiddenStates);
    const first = this.config.views.length === 1 ? all : F.slice(all, 1, 0, this.config.imageEmbedLen);
    const g = this.config.denoiser.inputSize, grid = Math.round(Math.sqrt(this.config.imageEmbedLen));
    if (grid === g) return first;
    const [b, , d] = first.shape as [number, number, number];
    const k = grid / g; // rows of the grid are row-major: [B, g, k, g, k, D]
    return F.reshape(F.mean(F.reshape(first, [b, g, k, g, k, d]), [2, 4]), [b, g * g, d]);
  }

  /** The frozen VAE's packed, scaled latent of the target image (no gradient). */
  targetLatent(targetImages: Tensor, opts: { posteriorNoise?: Tensor; generator?: Generator } = {}): VaeTarget {
    return noGrad(() => {
      const c = targetImages.shape[1]!;
      const mean = F.tensor(this.config.imageMean, [1, c, 1, 1], { backend: targetImages.backend });
      const std = F.tensor(this.config.imageStd, [1, c, 1, 1], { backend: targetImages.backend });
      const unit = F.div(F.sub(F.add(F.mul(targetImages, std), mean), 0.5), 0.5);
      const clamped = F.minimum(F.maximum(unit, -1), 1);
      const s = this.config.decodeImageSize;
      const imagesVae = resizeBilinear(clamped, s, s);
      const posterior = this.vae.encode(imagesVae);
      const latentSample = posterior.sample({ ...(opts.posteriorNoise ? { noise: opts.posteriorNoise } : {}), ...(opts.generator ? { generator: opts.generator } : {}) });
      return { imagesVae, posterior, latentSample, latent: packLatents(this.vae.scaleLatents(latentSample)) };
    });
  }

  /**
   * The locator stage's loss: keypoint 0 of the first view against the gaze box centre, the
   * locator alone (no vision tower, no LLM; unweighted: loss_weight balances it against the
   * action loss, and here it is the only loss). pixelValues holds each sample's first view only
   * [B, 3, S, S] (Processor.locatorInputs).
   */
  locatorStageLoss(inputs: Pick<ReconInputs, 'pixelValues' | 'prompts' | 'locatorTarget'>): Tensor {
    if (!this.locator) throw new Error('ReconVLA.locatorStageLoss: the model has no locator (config "locator")');
    if (!inputs.locatorTarget) throw new Error('ReconVLA.locatorStageLoss: locatorTarget is missing (Processor.locatorInputs builds it from the gaze boxes)');
    const b = inputs.prompts.batchSize, p = inputs.pixelValues;
    if (p.shape[0] !== b) throw new Error(`ReconVLA.locatorStageLoss: pixelValues [${p.shape.join(', ')}] for ${b} prompts: pass each sample's first view only (Processor.locatorInputs)`);
    const points = F.reshape(this.locator.keypoints(p, this.locator.film(inputs.prompts), 1), [b, 1, this.config.locator!.keypoints, 2]);
    return locatorLoss(points, inputs.locatorTarget.centre, inputs.locatorTarget.inView);
  }

  /** The spliced sequence through Qwen2: hidden states after the final norm and logits. */
  runLanguageModel(plan: SplicePlan, inputsEmbeds: Tensor): { hiddenStates: Tensor; logits: Tensor } {
    const attentionMask = F.tensor(plan.attentionMask, [plan.batchSize, plan.length], { backend: inputsEmbeds.backend, dtype: 'int32' });
    const hiddenStates = this.lm.model.forward({ inputsEmbeds, attentionMask });
    return { hiddenStates, logits: F.linear(hiddenStates, this.lm.lmHeadWeight) };
  }

  /** One training forward pass: every intermediate the golden fixture checks, and the losses. */
  forward(inputs: ReconInputs): ReconOutputs {
    const { prompts } = inputs;
    const withLm = inputs.lmLoss ?? true;
    const withVm = inputs.vmLoss ?? this.config.ablation.recon;
    if (withVm && inputs.targetImages === undefined) {
      throw new Error(`ReconVLA.forward: the reconstruction loss is on (${inputs.vmLoss === undefined ? "the config's ablation.recon" : 'vmLoss: true'}) but targetImages is missing: pass the gaze crops [B, 3, s, s], or vmLoss: false for the action loss alone`);
    }
    const { visionHidden, imageFeatures, plan, inputsEmbeds, locatorPoints } = this.embedInputs(inputs.pixelValues, prompts, inputs.stateValues);
    const { hiddenStates, logits } = this.runLanguageModel(plan, inputsEmbeds);
    const labels = F.tensor(plan.labels, [plan.batchSize, plan.length], { backend: logits.backend, dtype: 'int32' });
    const lmLoss = withLm ? causalLMLoss(logits, labels, this.config.prompt.ignoreIndex) : null;
    const reconTokens = this.reconTokens(plan, hiddenStates);
    let target: VaeTarget | null = null;
    let vm: ReconOutputs['vm'] = null;
    if (withVm) {
      const gen = inputs.generator ? { generator: inputs.generator } : {};
      target = this.targetLatent(inputs.targetImages!, { ...gen, ...(inputs.posteriorNoise ? { posteriorNoise: inputs.posteriorNoise } : {}) });
      const trace = new Map<string, Tensor>();
      const r = this.denoiser.vmLoss({ cond: reconTokens, x0: target.latent, ...gen, ...(inputs.t ? { t: inputs.t } : {}), ...(inputs.noise ? { noise: inputs.noise } : {}) }, trace);
      vm = { ...r, lnPre: trace.get('ln_pre')! };
    }
    const vmLoss = vm?.loss ?? null;
    const w = this.config.locator?.lossWeight ?? 0;
    const locLoss = locatorPoints && inputs.locatorTarget && w > 0 ? F.mul(locatorLoss(locatorPoints, inputs.locatorTarget.centre, inputs.locatorTarget.inView), w) : null;
    const actionAndRecon = lmLoss && vmLoss ? F.add(lmLoss, vmLoss) : lmLoss ?? vmLoss;
    if (!actionAndRecon) throw new Error('ReconVLA.forward: no loss to compute (lm loss off and no reconstruction target)');
    // A frozen keypoint network makes locLoss a constant: adding it would change no gradient, only the logged total.
    const loss = locLoss && !this.config.locator!.freeze ? F.add(actionAndRecon, locLoss) : actionAndRecon;
    return { loss, lmLoss, vmLoss, visionHidden, imageFeatures, plan, inputsEmbeds, hiddenStates, logits, reconTokens, target, vm, locatorPoints, locLoss };
  }
}
