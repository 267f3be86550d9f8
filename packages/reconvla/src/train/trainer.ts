// The training loop: stages in order, each with a fresh AdamW + warmup-cosine schedule over the
// parameters that stage trains, gradient clipping, one tidy() per step, periodic logging and
// atomic checkpoints. Resuming loads the newest checkpoint (parameters, optimizer, scheduler, the
// step RNG, and the vision stage's text tower and heads) and skips the batches already seen, so
// it continues the run exactly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F, Generator, optim, saveSafetensors, tidy, type Backend, type Tensor } from '@reconvla/core';
import { parseReconVLAConfig } from '../config.ts';
import { initFromScratch } from '../init.ts';
import { ReconVLA } from '../model.ts';
import { savePretrained } from '../pretrained.ts';
import { Processor } from '../processor.ts';
import type { BatchSource, HostBatch } from './batch.ts';
import { latestCheckpoint, readCheckpoint, writeCheckpoint, type TrainState, type WriteHook } from './checkpoint.ts';
import type { StageConfig, TrainConfig } from './config.ts';
import { calibrateLatentScale, vaeLoss } from './vae_stage.ts';
import { SiglipObjective, visionStageLoss } from './vision_stage.ts';

export interface LogEntry {
  stage: string;
  step: number;
  steps: number;
  globalStep: number;
  loss: number;
  lm: number | null;
  vm: number | null;
  /** Vision stage: image -> text top-1 accuracy within the batch (else null); loss is the sigmoid loss. */
  retrieval: number | null;
  lr: number;
  gradNorm: number;
  secondsPerStep: number;
}

export interface TrainerOptions {
  runDir: string;
  backend: Backend;
  /** The batches of a stage (e.g. tabletopSource(stage.data, ...)). */
  source: (stage: StageConfig, model: ReconVLA) => BatchSource;
  resume?: boolean;
  onLog?: (e: LogEntry) => void;
  /** After every step (progress bars). */
  onStep?: (stage: StageConfig, step: number) => void;
  /** Tests: called between checkpoint files. */
  writeHook?: WriteHook;
}

interface StepResult { loss: Tensor; lm: Tensor | null; vm: Tensor | null; retrieval: Tensor | null; norm: Tensor }

export class Trainer {
  /** The vision stage's text tower, image head, t' and b while that stage runs. */
  private objective: SiglipObjective | null = null;

  private constructor(
    readonly train: TrainConfig,
    readonly model: ReconVLA,
    readonly opts: TrainerOptions,
    private state: TrainState,
    private resumeOptimizer: optim.OptimizerStateDict | null,
    readonly rng: Generator,
    private resumeAuxiliary: Map<string, Tensor> | null = null,
  ) {}

  get checkpointDir(): string { return path.join(this.opts.runDir, 'checkpoints'); }

  /** A new run, or (with resume and a checkpoint present) the continuation of one. */
  static create(train: TrainConfig, opts: TrainerOptions): Trainer {
    const { backend } = opts;
    fs.mkdirSync(opts.runDir, { recursive: true });
    const latest = opts.resume ? latestCheckpoint(path.join(opts.runDir, 'checkpoints')) : null;
    if (latest) {
      const ck = readCheckpoint(latest, backend, { auxiliary: true });
      const model = new ReconVLA(parseReconVLAConfig(ck.state.modelConfig), { backend });
      tidy(() => { model.loadStateDict(ck.model); for (const t of ck.model.values()) t.dispose(); });
      const rng = new Generator(0);
      rng.setState(ck.state.rng);
      return new Trainer(ck.state.train, model, opts, ck.state, ck.optimizer, rng, ck.auxiliary);
    }
    const init = new Generator(train.seed);
    const model = new ReconVLA(parseReconVLAConfig(train.model), { backend, generator: init });
    initFromScratch(model, init);
    fs.writeFileSync(path.join(opts.runDir, 'train.json'), JSON.stringify(train, null, 2) + '\n');
    const rng = new Generator(train.seed + 1);
    const state: TrainState = { stage: 0, stageStep: 0, globalStep: 0, rng: rng.getState(), scheduler: { lastStep: 0, baseLrs: [] }, train, modelConfig: model.config.json };
    return new Trainer(train, model, opts, state, null, rng);
  }

  /** Runs the remaining stages; writes the final model to runDir/model and returns it. */
  async run(): Promise<ReconVLA> {
    for (let s = this.state.stage; s < this.train.stages.length; s++) {
      if (s !== this.state.stage) { this.state.stage = s; this.state.stageStep = 0; this.resumeOptimizer = null; }
      await this.runStage(this.train.stages[s]!);
    }
    await savePretrained(this.model, path.join(this.opts.runDir, 'model'));
    return this.model;
  }

  /** Which parameters a stage trains (and only those require gradients during it). */
  private stageParameters(stage: StageConfig): Tensor[] {
    const m = this.model;
    m.applyFreezing();
    if (stage.kind === 'vision') {
      m.requiresGrad_(false);
      m.visionTower.requiresGrad_(true);
      return [...m.parameters().filter((p) => p.requiresGrad), ...this.objective!.parameters()];
    }
    if (stage.kind === 'vae') {
      m.requiresGrad_(false);
      m.vae.requiresGrad_(true);
    } else if (!stage.vmLoss) {
      m.denoiser.requiresGrad_(false);
    }
    return m.parameters().filter((p) => p.requiresGrad);
  }

  /**
   * The vision stage's objective: initialised from its own seed (so a run that resumes later
   * draws the same values), then the checkpoint's values when resuming inside the stage.
   */
  private createObjective(stage: StageConfig): SiglipObjective {
    if (!stage.captionWords?.length) throw new Error(`stage ${stage.name}: a vision stage needs captionWords (the caption vocabulary, e.g. captionVocabulary() of @reconvla/tabletop)`);
    const generator = new Generator(this.train.seed * 1000 + 500 + this.state.stage);
    const init = { backend: this.opts.backend, generator, ...(stage.logitBiasInit !== undefined ? { logitBias: stage.logitBiasInit } : {}) };
    const objective = SiglipObjective.create(this.model, stage.captionWords, stage.textConfig ?? {}, init);
    const saved = this.resumeAuxiliary;
    if (saved) tidy(() => { objective.loadStateDict(saved); for (const t of saved.values()) t.dispose(); });
    this.resumeAuxiliary = null;
    return objective;
  }

  private dropAuxiliary(): void {
    if (this.resumeAuxiliary) for (const t of this.resumeAuxiliary.values()) t.dispose();
    this.resumeAuxiliary = null;
  }

  /** After the vision stage: its text tower and heads in runDir/vision_stage (ReconVLA's model/ keeps upstream's layout). */
  private async saveObjective(objective: SiglipObjective): Promise<void> {
    const dir = path.join(this.opts.runDir, 'vision_stage');
    fs.mkdirSync(dir, { recursive: true });
    await saveSafetensors(path.join(dir, 'model.safetensors'), objective.stateDict());
    const config = { text_config: objective.textJson, caption_words: objective.tokenizer.words, image_head: objective.image_head.weight.shape };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }

  private async runStage(stage: StageConfig): Promise<void> {
    if (stage.kind === 'vision') this.objective = this.createObjective(stage);
    else this.dropAuxiliary();
    const params = this.stageParameters(stage);
    const opt = new optim.AdamW(params, { lr: stage.lr, weightDecay: stage.weightDecay });
    const sched = new optim.LRScheduler(opt, optim.warmupCosine({ warmupSteps: stage.warmupSteps, totalSteps: stage.steps, minLr: stage.minLr }));
    if (this.resumeOptimizer) {
      opt.loadStateDict(this.resumeOptimizer);
      sched.loadStateDict(this.state.scheduler);
      this.resumeOptimizer = null;
    }
    const processor = stage.kind === 'vae' ? null : new Processor(this.model.config);
    const stageIndex = this.state.stage;
    const batches = this.opts.source(stage, this.model)({ batchSize: stage.batchSize, seed: this.train.seed * 1000 + stageIndex, start: this.state.stageStep });
    let t0 = performance.now(), since = 0;
    try {
      while (this.state.stageStep < stage.steps) {
        const next = await batches.next();
        if (next.done) throw new Error(`stage ${stage.name}: the batch source ended`);
        const r = tidy(() => this.step(stage, next.value, processor, params, opt, sched));
        this.state.stageStep++;
        this.state.globalStep++;
        since++;
        this.opts.onStep?.(stage, this.state.stageStep);
        const last = this.state.stageStep === stage.steps;
        if (this.state.stageStep % this.train.logEvery === 0 || last) {
          const now = performance.now();
          const entry: LogEntry = {
            stage: stage.name, step: this.state.stageStep, steps: stage.steps, globalStep: this.state.globalStep,
            loss: await r.loss.item(), lm: r.lm ? await r.lm.item() : null, vm: r.vm ? await r.vm.item() : null,
            retrieval: r.retrieval ? await r.retrieval.item() : null,
            lr: opt.lr, gradNorm: await r.norm.item(), secondsPerStep: (now - t0) / 1000 / since,
          };
          t0 = now; since = 0;
          fs.appendFileSync(path.join(this.opts.runDir, 'log.jsonl'), JSON.stringify(entry) + '\n');
          this.opts.onLog?.(entry);
        }
        for (const t of [r.loss, r.lm, r.vm, r.retrieval, r.norm]) t?.dispose();
        if (last && stage.kind === 'vae') await this.calibrate(stage);
        if (this.state.stageStep % this.train.checkpointEvery === 0 || last) await this.checkpoint(opt, sched);
      }
      if (this.objective) await this.saveObjective(this.objective);
    } finally {
      await batches.return?.();
      opt.dispose();
      this.objective?.dispose();
      this.objective = null;
    }
  }

  private step(stage: StageConfig, batch: HostBatch, processor: Processor | null, params: Tensor[], opt: optim.AdamW, sched: optim.LRScheduler): StepResult {
    const backend = this.opts.backend;
    let loss: Tensor, lm: Tensor | null = null, vm: Tensor | null = null, retrieval: Tensor | null = null;
    if (stage.kind === 'vae') {
      loss = vaeLoss(this.model, batch.targets, this.rng);
    } else if (stage.kind === 'vision') {
      const captions = batch.captions;
      if (!captions) throw new Error(`stage ${stage.name}: the batch has no captions (a vision stage reads HostBatch.captions, e.g. from sceneCaptionSource)`);
      const ids = this.objective!.tokenizer.batch(captions, backend);
      ({ loss, retrieval } = visionStageLoss(this.model, this.objective!, processor!.pixels(batch.images, backend), ids));
    } else {
      const out = this.model.forward({ ...processor!.batchInputs(batch, backend), generator: this.rng, lmLoss: stage.lmLoss, vmLoss: stage.vmLoss });
      ({ loss, lmLoss: lm, vmLoss: vm } = out);
    }
    loss.backward();
    const norm = optim.clipGradNorm(params, stage.maxGradNorm);
    opt.step();
    opt.zeroGrad();
    sched.step();
    this.state.scheduler = sched.stateDict();
    return { loss: F.detach(loss), lm: lm && F.detach(lm), vm: vm && F.detach(vm), retrieval, norm };
  }

  /** After the VAE stage: the latent shift/scale that make the denoiser's target unit-scale. */
  private async calibrate(stage: StageConfig): Promise<void> {
    const batches = this.opts.source(stage, this.model)({ batchSize: stage.batchSize, seed: this.train.seed * 1000 + 999, start: 0 });
    const { shift, scale } = await calibrateLatentScale(this.model, batches, 8);
    await batches.return?.();
    this.model.vae.config.shiftFactor = shift;
    this.model.vae.config.scalingFactor = scale;
    const vaeJson = this.model.config.json.vae_config as Record<string, unknown>;
    vaeJson.shift_factor = shift;
    vaeJson.scaling_factor = scale;
  }

  private async checkpoint(opt: optim.AdamW, sched: optim.LRScheduler): Promise<void> {
    this.state.rng = this.rng.getState();
    this.state.scheduler = sched.stateDict();
    this.state.modelConfig = this.model.config.json;
    const sdOpt = opt.stateDict();
    try {
      const contents = { state: this.state, model: this.model.stateDict(), optimizer: sdOpt, auxiliary: this.objective?.stateDict() ?? null };
      await writeCheckpoint(this.checkpointDir, contents, this.train.keepCheckpoints, this.opts.writeHook);
    } finally {
      for (const e of sdOpt.state.values()) for (const v of Object.values(e)) if (typeof v !== 'number') v.dispose();
    }
  }
}
