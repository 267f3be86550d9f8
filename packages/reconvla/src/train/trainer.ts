// The training loop: stages in order, each with a fresh AdamW + warmup-cosine schedule over the
// parameters that stage trains, gradient clipping, one tidy() per step, periodic logging and
// atomic checkpoints. Resuming loads the newest checkpoint (parameters, optimizer, scheduler, the
// step RNG, and the vision stage's text tower and heads) and skips the batches already seen, so
// it continues the run exactly.
//
// A run that goes wrong stops cleanly: every step reads its losses and gradient norm (one small
// tensor, one read) before the optimizer applies it, and a NaN or infinity stops the run with
// the stage, step and value named, without applying the step or writing a checkpoint after it.
// SIGINT and SIGTERM finish the current step, write a checkpoint and exit with 130 / 143, so
// `--resume` continues exactly where the interrupted run stopped.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { F, Generator, optim, saveSafetensors, tidy, type Backend, type Tensor } from '@reconvla/core';
import { parseReconVLAConfig } from '../config.ts';
import { initFromScratch } from '../init.ts';
import { initFrom } from './init_from.ts';
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
  /** With a locator: its weighted keypoint loss (absent otherwise). */
  loc?: number;
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
  /**
   * SIGINT / SIGTERM while run() runs: the current step finishes, a checkpoint is written, and
   * 'exit' (the default) ends the process with 130 / 143 (128 + the signal's number, as a shell
   * reports a process killed by it); 'throw' makes run() reject with a TrainingStopped instead
   * (programs that embed the trainer); false leaves the signals alone. A second signal exits at
   * once: the checkpoints are written atomically, so the latest one stays usable.
   */
  signals?: 'exit' | 'throw' | false;
}

/** What a step reports: [loss, lm?, vm?, retrieval?, loc?, gradient norm] in one small tensor, read once. */
interface StepResult { values: Tensor; lm: boolean; vm: boolean; retrieval: boolean; loc: boolean }

/** The values of one step, read back from StepResult.values. */
interface StepValues { loss: number; lm: number | null; vm: number | null; retrieval: number | null; loc: number | null; norm: number }

/** run() stopped early on request (a signal or requestStop()), after writing a checkpoint. */
export class TrainingStopped extends Error {
  override name = 'TrainingStopped';
  constructor(message: string, readonly reason: string, readonly exitCode: number, readonly checkpoint: string | null) { super(message); }
}

/** A step whose loss (loss, lm or vm) or gradient norm was NaN or infinite; it was not applied. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
  constructor(message: string, readonly stage: string, readonly step: number, readonly values: StepValues) { super(message); }
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/** Lets the event loop run (a pending signal's handler), which awaiting resolved promises does not. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const show = (v: number): string => (Number.isNaN(v) ? 'NaN' : String(v));

export class Trainer {
  /** The vision stage's text tower, image head, t' and b while that stage runs. */
  private objective: SiglipObjective | null = null;
  /** Set by a signal or requestStop(): the run stops at the end of the current step. */
  private stopRequest: { reason: string; exitCode: number; signal: boolean } | null = null;

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
    if (train.initFrom) {
      const copied = initFrom(model, train.initFrom, backend);
      process.stderr.write(`init: ${copied.length} parameters from ${train.initFrom.path} (${train.initFrom.prefixes.map((x) => `"${x}"`).join(', ')})\n`);
    }
    fs.writeFileSync(path.join(opts.runDir, 'train.json'), JSON.stringify(train, null, 2) + '\n');
    const rng = new Generator(train.seed + 1);
    const state: TrainState = { stage: 0, stageStep: 0, globalStep: 0, rng: rng.getState(), scheduler: { lastStep: 0, baseLrs: [] }, train, modelConfig: model.config.json };
    return new Trainer(train, model, opts, state, null, rng);
  }

  /**
   * Runs the remaining stages; writes the final model to runDir/model and returns it. A signal
   * (see TrainerOptions.signals) or requestStop() ends it after the current step and a checkpoint.
   */
  async run(): Promise<ReconVLA> {
    const uninstall = this.installSignalHandlers();
    try {
      for (let s = this.state.stage; s < this.train.stages.length; s++) {
        if (s !== this.state.stage) { this.state.stage = s; this.state.stageStep = 0; this.resumeOptimizer = null; }
        await this.runStage(this.train.stages[s]!);
      }
      await savePretrained(this.model, path.join(this.opts.runDir, 'model'));
    } catch (e) {
      if (e instanceof TrainingStopped && this.stopRequest?.signal && (this.opts.signals ?? 'exit') === 'exit') {
        process.stderr.write(`${e.message}\n`);
        process.exit(e.exitCode);
      }
      throw e;
    } finally {
      uninstall();
    }
    // A signal after the last step: the run is complete and saved; exit as the signal asked.
    const late = this.stopRequest;
    if (late?.signal && (this.opts.signals ?? 'exit') === 'exit') process.exit(late.exitCode);
    return this.model;
  }

  /** Stops run() at the end of the current step, after a checkpoint; run() rejects with TrainingStopped. */
  requestStop(reason = 'stop requested'): void {
    this.stopRequest ??= { reason, exitCode: 1, signal: false };
  }

  private installSignalHandlers(): () => void {
    if ((this.opts.signals ?? 'exit') === false) return () => {};
    const handler = (signal: StopSignal): void => {
      const exitCode = SIGNAL_EXIT_CODES[signal];
      if (this.stopRequest?.signal) {
        process.stderr.write(`\n${signal} again: exiting now; the latest complete checkpoint stays usable\n`);
        process.exit(exitCode);
      }
      this.stopRequest = { reason: signal, exitCode, signal: true };
      process.stderr.write(`\n${signal}: stopping after this step with a checkpoint (${signal} again exits at once)\n`);
    };
    const onInt = (): void => handler('SIGINT'), onTerm = (): void => handler('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    return () => { process.off('SIGINT', onInt); process.off('SIGTERM', onTerm); };
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
    if (stage.kind === 'locator') {
      if (!m.locator) throw new Error(`stage ${stage.name}: a locator stage needs a model with a locator (config "locator", train --locator)`);
      m.requiresGrad_(false);
      m.locator.requiresGrad_(true);
      return m.locator.parameters();
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
        const r = tidy(() => this.forwardBackward(stage, next.value, processor, params));
        // The one read of the step: the optimizer must not apply a NaN or infinite update.
        let v: StepValues;
        try {
          v = this.readValues(r, await r.values.data());
        } finally {
          r.values.dispose();
        }
        this.checkFinite(stage, v, opt);
        tidy(() => { opt.step(); opt.zeroGrad(); sched.step(); });
        this.state.scheduler = sched.stateDict();
        this.state.stageStep++;
        this.state.globalStep++;
        since++;
        this.opts.onStep?.(stage, this.state.stageStep);
        const last = this.state.stageStep === stage.steps;
        if (this.state.stageStep % this.train.logEvery === 0 || last) {
          const now = performance.now();
          const entry: LogEntry = {
            stage: stage.name, step: this.state.stageStep, steps: stage.steps, globalStep: this.state.globalStep,
            loss: v.loss, lm: v.lm, vm: v.vm, retrieval: v.retrieval, ...(v.loc !== null ? { loc: v.loc } : {}),
            lr: opt.lr, gradNorm: v.norm, secondsPerStep: (now - t0) / 1000 / since,
          };
          t0 = now; since = 0;
          fs.appendFileSync(path.join(this.opts.runDir, 'log.jsonl'), JSON.stringify(entry) + '\n');
          this.opts.onLog?.(entry);
        }
        if (last && stage.kind === 'vae') await this.calibrate(stage);
        let written: string | null = null;
        if (this.state.stageStep % this.train.checkpointEvery === 0 || last) written = await this.checkpoint(opt, sched);
        await yieldToEventLoop();
        const stop = this.stopRequest;
        if (stop) {
          written ??= await this.checkpoint(opt, sched);
          throw new TrainingStopped(
            `${stop.reason}: stopped after stage ${stage.name}, step ${this.state.stageStep} (global step ${this.state.globalStep}); ` +
            `checkpoint ${written}; continue with --resume`, stop.reason, stop.exitCode, written);
        }
      }
      if (this.objective) await this.saveObjective(this.objective);
    } finally {
      await batches.return?.();
      opt.dispose();
      this.objective?.dispose();
      this.objective = null;
    }
  }

  /** Forward and backward; the gradients stay on the parameters for opt.step(). */
  private forwardBackward(stage: StageConfig, batch: HostBatch, processor: Processor | null, params: Tensor[]): StepResult {
    const backend = this.opts.backend;
    let loss: Tensor, lm: Tensor | null = null, vm: Tensor | null = null, retrieval: Tensor | null = null, loc: Tensor | null = null;
    if (stage.kind === 'vae') {
      loss = vaeLoss(this.model, batch.targets, this.rng);
    } else if (stage.kind === 'vision') {
      const captions = batch.captions;
      if (!captions) throw new Error(`stage ${stage.name}: the batch has no captions (a vision stage reads HostBatch.captions, e.g. from sceneCaptionSource)`);
      const ids = this.objective!.tokenizer.batch(captions, backend);
      ({ loss, retrieval } = visionStageLoss(this.model, this.objective!, processor!.pixels(batch.images, backend), ids));
    } else if (stage.kind === 'locator') {
      loss = this.model.locatorStageLoss(processor!.locatorInputs(batch, backend));
      loc = loss;
    } else {
      const out = this.model.forward({ ...processor!.batchInputs(batch, backend), generator: this.rng, lmLoss: stage.lmLoss, vmLoss: stage.vmLoss });
      ({ loss, lmLoss: lm, vmLoss: vm, locLoss: loc } = out);
    }
    loss.backward();
    const norm = optim.clipGradNorm(params, stage.maxGradNorm);
    const parts = [loss, lm, vm, retrieval, loc, norm].filter((t): t is Tensor => t !== null).map((t) => F.reshape(F.detach(t), []));
    return { values: F.stack(parts), lm: lm !== null, vm: vm !== null, retrieval: retrieval !== null, loc: loc !== null };
  }

  private readValues(r: StepResult, a: Float32Array | Int32Array): StepValues {
    let i = 0;
    const loss = a[i++]!, lm = r.lm ? a[i++]! : null, vm = r.vm ? a[i++]! : null, retrieval = r.retrieval ? a[i++]! : null, loc = r.loc ? a[i++]! : null;
    return { loss, lm, vm, retrieval, loc, norm: a[i]! };
  }

  /** Throws (after dropping the gradients, before any update) if a loss or the gradient norm is NaN or infinite. */
  private checkFinite(stage: StageConfig, v: StepValues, opt: optim.AdamW): void {
    const checked: [string, number | null][] = [['lm loss', v.lm], ['vm loss', v.vm], ['locator loss', v.loc], ['loss', v.loss], ['gradient norm', v.norm]];
    const bad = checked.filter((e): e is [string, number] => e[1] !== null && !Number.isFinite(e[1]));
    if (bad.length === 0) return;
    opt.zeroGrad();
    const step = this.state.stageStep + 1;
    const [what, value] = bad[0]!;
    const all = checked.filter(([, x]) => x !== null).map(([k, x]) => `${k} ${show(x!)}`).join(', ');
    const latest = latestCheckpoint(this.checkpointDir);
    throw new NonFiniteLossError(
      `stage ${stage.name}, step ${step}: ${what} is ${show(value)} (global step ${this.state.globalStep + 1}; ${all}); ` +
      `the step was not applied and no checkpoint was written after it; the latest checkpoint is ${latest ?? 'none'}`,
      stage.name, step, v);
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

  private async checkpoint(opt: optim.AdamW, sched: optim.LRScheduler): Promise<string> {
    this.state.rng = this.rng.getState();
    this.state.scheduler = sched.stateDict();
    this.state.modelConfig = this.model.config.json;
    const sdOpt = opt.stateDict();
    try {
      const contents = { state: this.state, model: this.model.stateDict(), optimizer: sdOpt, auxiliary: this.objective?.stateDict() ?? null };
      return await writeCheckpoint(this.checkpointDir, contents, this.train.keepCheckpoints, this.opts.writeHook);
    } finally {
      for (const e of sdOpt.state.values()) for (const v of Object.values(e)) if (typeof v !== 'number') v.dispose();
    }
  }
}
