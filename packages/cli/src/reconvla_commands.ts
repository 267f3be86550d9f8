// `reconvla train | eval | reconstruct | attention | demo`: training the ReconVLA policy on
// tabletop datasets, closed-loop evaluation (the paper's Table 3), pictures of its gaze
// reconstructions and attention maps, and the end-to-end demo.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { createBackend, Generator, type Backend } from '@reconvla/core';
import type { CameraView, HostBatch, InitFrom, Json, LogEntry, ReconVLA, RgbBytes, StageConfig, StateEncoding, TrainConfig } from '@reconvla/reconvla';
// The model packages are loaded when a command of this file runs, not when the CLI starts
// (Qwen2's tokenizer takes seconds to load, and `reconvla sim ...` does not need it).
type Lib = typeof import('@reconvla/reconvla');
type Sim = typeof import('@reconvla/reconvla/sim');
let R: Lib, S: Sim;
export async function loadLib(): Promise<void> {
  R ??= await import('@reconvla/reconvla');
  S ??= await import('@reconvla/reconvla/sim');
}
import { DatasetReader, drawBox, generateDataset, parseEnvList, type EnvName, type TaskKind } from '@reconvla/tabletop';
import { backendArg, choiceArg, envListArg, intArg, taskListArg, type BackendFlag } from './args.ts';
import { runEvaluation, type EvalSuiteRow } from './eval_command.ts';
import { presetNamed, PRESETS, type Preset } from './presets.ts';




function viewsArg(v: string): CameraView[] {
  const views = v.split(',').map((x) => x.trim());
  if (views.length === 0 || views.some((x) => x !== 'static' && x !== 'gripper') || new Set(views).size !== views.length) {
    throw new InvalidArgumentError(`views must be a list of distinct static and gripper, got "${v}".`);
  }
  return views as CameraView[];
}




/** The wasm backend is measured fastest for the tiny model on this machine (see docs/reconvla.md). */
function makeBackend(flag: BackendFlag): Promise<Backend> {
  return createBackend(flag);
}

export interface TrainFlags {
  config: string; data: string; pretrainData?: string; out: string; resume?: boolean; backend: BackendFlag;
  vaeSteps: number; pretrainSteps: number; finetuneSteps: number; batchSize: number; lr: number; seed: number;
  recon: boolean; reconTarget: 'gaze' | 'full'; layout: 'instr-image-instr' | 'image-instr' | 'instr-image'; chunk: number;
  views: CameraView[]; stateEncoding: StateEncoding; unfreezeVision?: boolean;
  /** Train on these task kinds only (null: the dataset's own, dataset.json's task_filter). */
  tasks?: TaskKind[] | null;
  denoiserRepeat: number;
  llmWidth: number;
  llmLayers: number;
  actionBins: number;
  /** The vision tower's patch side (8: 16 tokens per view; 4: 64). */
  patchSize: number;
  /** Explicit grounding: the answer names the gaze box centre before the actions, in the first view (true, 'first') or in every view ('all'). */
  grounding?: boolean | string;
  /** Ordered bin embeddings (ours): Fourier bands of each action-bin id's value added to its input embedding (0 or absent: off). */
  binFeatures?: number;
  /** The locator (ours): instruction-conditioned keypoints, supervised with the gaze box centre, added to the state token. */
  locator?: boolean;
  /** The locator frozen after its stage (config locator.freeze). */
  freezeLocator?: boolean;
  /** Parameters copied from another run or model folder after the fresh init (TrainConfig.initFrom), and which (key prefixes). */
  initFrom?: string;
  initKeys?: string[];
  /** Steps of the locator stage (ours: the locator alone on the gaze box centres, batch 64) before the VLA stages (0: none). */
  locatorSteps: number;
  /** The task kinds of the locator stage (default: the run's tasks). */
  locatorTasks?: string[];
  /** Steps of the SigLIP-objective vision stage before everything (0: none) and its environments. */
  visionSteps: number;
  visionEnvs: EnvName[];
}


/** The kinds a dataset's episodes were restricted to (dataset.json's task_filter), or null for all. */
function datasetTaskFilter(dir: string): string[] | null {
  const filter = DatasetReader.open(dir).index.task_filter;
  return filter ? [...filter] : null;
}

/** --grounding as tinyConfigJson's option: absent, bare or "first" (the first view), "all" (every view). */
export function groundingFlag(v: boolean | string | undefined): boolean | 'first' | 'all' {
  if (v === undefined || v === false) return false;
  if (v === true || v === 'first' || v === 'all') return v;
  throw new Error(`--grounding ${v}: expected "first" (the gaze box centre in the first view) or "all" (in every view)`);
}

/** "tiny", or a config.json path (the tabletop vocabulary and state ranges are filled in when it has none). */
function modelConfig(f: TrainFlags, words: string[]): Json {
  if (f.config === 'tiny') {
    return R.tinyConfigJson({
      words, stateRange: S.tabletopStateRange(), actionChunk: f.chunk, layout: f.layout, views: f.views, stateEncoding: f.stateEncoding, denoiserRepeat: f.denoiserRepeat,
      llmWidth: f.llmWidth, llmLayers: f.llmLayers, nBins: f.actionBins, patchSize: f.patchSize, grounding: groundingFlag(f.grounding),
      ...(f.binFeatures ? { binFeatures: f.binFeatures } : {}), locator: f.locator === true, freezeLocator: f.freezeLocator === true,
      tasks: f.tasks ?? datasetTaskFilter(f.data), ablation: { recon: f.recon, recon_target: f.reconTarget, unfreeze_vision_tower: f.unfreezeVision === true },
    });
  }
  if (!existsSync(f.config)) throw new Error(`--config ${f.config}: not "tiny" and no such config.json`);
  const json = JSON.parse(readFileSync(f.config, 'utf8')) as Json;
  json.word_tokenizer ??= { words };
  json.state_range ??= S.tabletopStateRange();
  R.parseReconVLAConfig(json); // fail here, not after the dataset is read
  return json;
}

/** --init-from / --init-keys as TrainConfig.initFrom, after checking the flags that depend on them (before any dataset is read). */
export function initFromFlags(f: Pick<TrainFlags, 'initFrom' | 'initKeys' | 'freezeLocator' | 'locatorSteps'>): InitFrom | null {
  if (f.initKeys && !f.initFrom) throw new Error('--init-keys: give --init-from RUN_OR_MODEL to copy them from');
  const initFrom = f.initFrom ? { path: f.initFrom, prefixes: f.initKeys ?? [''] } : null;
  // Frozen means kept as trained: every module Locator.freezeKeypoints() freezes must come from somewhere
  // (listed here, not imported: the model package loads only after the flags are checked).
  const keypointParts = ['conv1.', 'conv2.', 'conv3.', 'words.', 'heat.'].map((part) => `model.locator.${part}`);
  const copied = (key: string): boolean => initFrom?.prefixes.some((p) => key.startsWith(p)) ?? false;
  const locatorGiven = f.locatorSteps > 0 || keypointParts.every(copied);
  if (f.freezeLocator && !locatorGiven) throw new Error('--freeze-locator: the locator would stay as initialised; give it a stage of its own (--locator-steps N) or copy it (--init-from RUN --init-keys model.locator.)');
  return initFrom;
}

export function trainConfig(f: TrainFlags): TrainConfig {
  const initFrom = initFromFlags(f);
  const words = S.tabletopVocabulary([...S.datasetInstructions(f.data), ...(f.pretrainData ? S.datasetInstructions(f.pretrainData) : [])]);
  const model = modelConfig(f, words);
  if (f.locatorSteps > 0 && !model.locator) throw new Error(`--locator-steps ${f.locatorSteps}: the model has no locator (add --locator, or use a config.json with "locator")`);
  const stage = (kind: StageConfig['kind'], data: string, steps: number): StageConfig => {
    const s = R.stageDefaults(kind, data, steps);
    return { ...s, batchSize: f.batchSize, lr: kind === 'vae' ? s.lr : f.lr, vmLoss: kind === 'vae' ? false : f.recon };
  };
  const pre = f.pretrainData ?? f.data;
  const stages = [
    // The vision stage draws its own scenes (stage.data names the environments), with its own batch size and lr.
    ...(f.visionSteps > 0 ? [S.sceneCaptionStage(f.visionEnvs, f.visionSteps)] : []),
    // The locator stage keeps its own batch size (64) and lr: its steps are cheap.
    ...(f.locatorSteps > 0 ? [{ ...R.stageDefaults('locator', f.data, f.locatorSteps), ...(f.locatorTasks ? { tasks: f.locatorTasks } : {}) }] : []),
    ...(f.vaeSteps > 0 ? [stage('vae', pre, f.vaeSteps)] : []),
    ...(f.pretrainSteps > 0 && f.recon ? [stage('pretrain', pre, f.pretrainSteps)] : []),
    stage('finetune', f.data, f.finetuneSteps),
  ];
  return { model, stages, seed: f.seed, logEvery: 25, checkpointEvery: 200, keepCheckpoints: 2, ...(initFrom ? { initFrom } : {}) };
}

function fmt(e: LogEntry): string {
  const parts = [`${e.stage} ${e.step}/${e.steps}`, `loss ${e.loss.toFixed(4)}`];
  if (e.lm !== null) parts.push(`lm ${e.lm.toFixed(4)}`);
  if (e.vm !== null) parts.push(`vm ${e.vm.toFixed(4)}`);
  if (e.retrieval !== null && e.retrieval !== undefined) parts.push(`retrieval ${(100 * e.retrieval).toFixed(0)}%`);
  if (e.loc !== undefined) parts.push(`loc ${e.loc.toFixed(4)}`);
  parts.push(`lr ${e.lr.toExponential(2)}`, `|g| ${e.gradNorm.toFixed(2)}`, `${(e.secondsPerStep * 1000).toFixed(0)} ms/step`);
  return parts.join(' | ');
}

export async function runTraining(train: TrainConfig, runDir: string, backend: Backend, resume: boolean): Promise<ReconVLA> {
  const total = train.stages.reduce((s, st) => s + st.steps, 0);
  const bar = new cliProgress.SingleBar({ format: 'train [{bar}] {value}/{total} steps | {stage} | eta {eta_formatted}', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  const trainer = R.Trainer.create(train, {
    runDir, backend, resume,
    source: (stage, model) => stage.kind === 'vision' ? S.sceneCaptionSource({ envs: parseEnvList(stage.data), views: model.config.views }) : S.tabletopSource(stage.data, {
      cropSize: model.config.vision.imageSize, actionChunk: model.config.prompt.actionChunk, target: model.config.ablation.reconTarget,
      views: model.config.views, tasks: stage.tasks ?? (stage.kind === 'finetune' || stage.kind === 'locator' ? model.config.tasks : null),
    }),
    onLog: (e) => { bar.stop(); console.log(fmt(e)); bar.start(total, e.globalStep, { stage: e.stage }); },
    onStep: (stage) => bar.increment(1, { stage: stage.name }),
  });
  bar.start(total, 0, { stage: '' });
  const t0 = Date.now();
  try {
    const model = await trainer.run();
    bar.stop();
    console.log(`trained in ${((Date.now() - t0) / 1000).toFixed(0)} s on ${backend.name}; model in ${path.join(runDir, 'model')}`);
    const { lossCurvePng } = await import('./plot.ts'); // vega loads only when a plot is drawn
    await lossCurvePng(path.join(runDir, 'log.jsonl'), path.join(runDir, 'loss.png'), `Training loss: ${path.basename(path.resolve(runDir))}`);
    console.log(`loss curves in ${path.join(runDir, 'loss.png')}`);
    return model;
  } finally {
    bar.stop();
  }
}

async function firstBatch(model: ReconVLA, data: string, count: number, seed: number): Promise<HostBatch> {
  // The model's own reconstruction target: the gaze crop, or the whole frame for the 'full' ablation.
  const it = S.tabletopSource(data, { cropSize: model.config.vision.imageSize, actionChunk: model.config.prompt.actionChunk, target: model.config.ablation.reconTarget, views: model.config.views })({ batchSize: count, seed, start: 0 });
  const b = (await it.next()).value as HostBatch;
  await it.return?.();
  return b;
}

/** The picture file a writer made, and (attention) each frame's share of attention inside its gaze box with the box's area share. */
export interface PictureResult { file: string; gazeShares?: number[]; gazeAreas?: number[] }

const asBytes = (img: { data: Uint8Array | Uint8ClampedArray; width: number; height: number }): RgbBytes => ({ width: img.width, height: img.height, data: Uint8Array.from(img.data) });

/** Rows of [frame | real target (gaze crop, or the frame for the 'full' ablation) | VAE round trip | reconstruction from the recon tokens]. */
export async function writeReconstructions(model: ReconVLA, data: string, out: string, count: number, seed: number): Promise<PictureResult> {
  const processor = new R.Processor(model.config);
  const b = await firstBatch(model, data, count, seed);
  const rows: RgbBytes[] = [];
  const gen = new Generator(seed);
  const views = model.config.views.length;
  for (let i = 0; i < b.instructions.length; i++) {
    const sample = { images: b.images.slice(i * views, (i + 1) * views), instruction: b.instructions[i]!, state: b.states[i]! };
    const frame = asBytes(sample.images[0]!);
    const s = frame.height;
    const real = R.resizeNearest(asBytes(b.targets[i]!), s, s);
    const vae = R.resizeNearest(await R.vaeRoundTrip(model, processor, b.targets[i]!), s, s);
    const recon = R.resizeNearest(await R.reconstructGaze(model, processor, sample, { generator: gen }), s, s);
    const row = R.sideBySide([frame, real, vae, recon]);
    writeFileSync(path.join(out, `reconstruction-${i}.png`), R.encodePng(row));
    rows.push(row);
    console.log(`reconstruction-${i}.png: "${b.instructions[i]}"`);
  }
  const file = path.join(out, 'reconstruction.png');
  writeFileSync(file, R.encodePng(R.stacked(rows)));
  return { file };
}

/**
 * Rows of [frame with its gaze box | attention of the text and action tokens over the first view's
 * patches]; prints each frame's share of that attention inside the gaze box, and the mean.
 */
export async function writeAttention(model: ReconVLA, data: string, out: string, count: number, seed: number): Promise<PictureResult> {
  const processor = new R.Processor(model.config);
  const b = await firstBatch(model, data, count, seed);
  const rows: RgbBytes[] = [];
  const views = model.config.views.length;
  const shares: number[] = [], areas: number[] = [];
  for (let i = 0; i < b.instructions.length; i++) {
    const images = b.images.slice(i * views, (i + 1) * views);
    const frame = asBytes(images[0]!);
    const map = await R.attentionMap(model, processor, { images, instruction: b.instructions[i]!, state: b.states[i]! });
    const box = b.gaze?.[i * views] ?? null;
    const inGaze = box ? R.gazeShare(map, box, frame.width, frame.height) : null;
    if (inGaze !== null && box) {
      shares.push(inGaze);
      areas.push(((box[2] - box[0]) * (box[3] - box[1])) / (frame.width * frame.height)); // what uniform attention would give
    }
    const boxed = { width: frame.width, height: frame.height, rgb: Uint8Array.from(frame.data) };
    if (box) drawBox(boxed, { x0: box[0], y0: box[1], x1: box[2], y1: box[3] }, [40, 220, 60]);
    const row = R.sideBySide([{ width: boxed.width, height: boxed.height, data: boxed.rgb }, R.overlayAttention(frame, map)]);
    writeFileSync(path.join(out, `attention-${i}.png`), R.encodePng(row));
    rows.push(row);
    const gazeText = inGaze === null ? 'gaze box out of view' : `inside the gaze box ${(100 * inGaze).toFixed(1)}% of the first view's`;
    console.log(`attention-${i}.png: "${b.instructions[i]}" (on the image ${(100 * map.imageShare).toFixed(1)}%; ${gazeText})`);
  }
  const mean = (xs: number[]): string => (100 * xs.reduce((a, v) => a + v, 0) / xs.length).toFixed(1);
  if (shares.length) console.log(`mean share of the first view's attention inside the gaze box: ${mean(shares)}% over ${shares.length} frames (the boxes cover ${mean(areas)}% of the frame: uniform attention)`);
  const file = path.join(out, 'attention.png');
  writeFileSync(file, R.encodePng(R.stacked(rows)));
  return { file, gazeShares: shares, gazeAreas: areas };
}

function addTrainFlags(cmd: Command, d: { vae: number; pretrain: number; finetune: number }): Command {
  return cmd
    .option('--backend <name>', 'cpu, wasm, webgpu or auto (wasm is the fastest for the tiny model here)', backendArg, 'wasm' as BackendFlag)
    .option('--vae-steps <n>', 'steps of the VAE stage (0: none)', intArg('vae-steps', 0), d.vae)
    .option('--pretrain-steps <n>', 'steps of reconstruction pretraining (0: none)', intArg('pretrain-steps', 0), d.pretrain)
    .option('--finetune-steps <n>', 'steps of task fine-tuning', intArg('finetune-steps', 1), d.finetune)
    .option('--batch-size <n>', 'frames per step', intArg('batch-size', 1), 16)
    .option('--lr <x>', 'peak learning rate of pretrain and finetune', (v) => Number(v), 1e-3)
    .option('--seed <n>', 'run seed', intArg('seed', 0), 0)
    .option('--no-recon', 'ablation: no reconstructive branch (a plain VLA)')
    .option('--recon-target <what>', 'ablation: reconstruct the gaze crop or the full frame', choiceArg('recon-target', ['gaze', 'full']), 'gaze')
    .option('--layout <order>', 'ablation: where the image sits in the prompt', choiceArg('layout', ['instr-image-instr', 'image-instr', 'instr-image']), 'instr-image-instr')
    .option('--chunk <n>', 'actions per model call (action chunking)', intArg('chunk', 1), 2)
    .option('--views <list>', 'cameras the model sees, each 16 image tokens: static or static,gripper', viewsArg, ['static'] as CameraView[])
    .option('--state-encoding <how>', 'robot state as upstream\'s bin tokens, or one token projected from the values (linear) or from their Fourier features (fourier)', choiceArg('state-encoding', ['bins', 'linear', 'fourier']), 'bins' as StateEncoding)
    .option('--unfreeze-vision', 'train the vision tower end to end (upstream freezes it)')
    .option('--denoiser-repeat <n>', 'noise draws per sample in the diffusion loss (upstream 4)', intArg('denoiser-repeat', 1), 4)
    .option('--llm-width <n>', 'the tiny LLM\'s hidden size (multiple of 16)', intArg('llm-width', 16), 64)
    .option('--llm-layers <n>', 'the tiny LLM\'s layers', intArg('llm-layers', 1), 2)
    .option('--action-bins <n>', 'bins of the action (and state) tokenizer (upstream 256)', intArg('action-bins', 3), 256)
    .option('--grounding [views]', 'explicit grounding (not ReconVLA\'s; the paper\'s Fig. 1(a)): the answer names the gaze box centre before the actions, in the first view (2 tokens; "first", the default) or in every view ("all", 2 per view)', (v: string) => {
      try { return groundingFlag(v); } catch (e) { throw new InvalidArgumentError(`${(e as Error).message}.`); }
    })
    .option('--bin-features <bands>', 'ordered bin embeddings (ours, not upstream\'s): an action-bin id (actions, grounding, bin-encoded state) enters as its embedding row plus a learned projection of the Fourier features of its value, with this many bands (0: off)', intArg('bin-features', 0, 8), 0)
    .option('--locator', 'the locator (ours, not ReconVLA\'s): a FiLM-conditioned convolutional keypoint network beside the vision tower, its points added to the state token; keypoint 0 learns the gaze box centre (needs --state-encoding linear or fourier)')
    .option('--locator-steps <n>', 'steps of the locator stage (ours) before the others: the locator alone learns the gaze box centres of the run\'s tasks, batch 64 (needs --locator)', intArg('locator-steps', 0), 0)
    .option('--freeze-locator', 'keep the locator\'s keypoint network (convolutions, FiLM table, heat maps) as its stage left it during the VLA stages; the projection into the state token still learns (needs --locator-steps, or the locator copied with --init-from)')
    .option('--init-from <dir>', 'after the fresh init, copy parameters from this run (its final model, else its latest checkpoint) or model folder; each must exist there with the same shape')
    .option('--init-keys <prefixes>', 'with --init-from: only the parameters whose state-dict key starts with one of these (comma-separated), e.g. model.locator. (default: all)', (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0))
    .option('--locator-tasks <list>', 'task kinds of the locator stage (default: the run\'s), e.g. the object tasks lift,push_left whose gaze box moves', taskListArg)
    .option('--patch-size <n>', 'the tiny vision tower\'s patch side on 32x32 images: 8 (16 tokens per view), 4 (64, averaged 2x2 for the DiT) or 2', intArg('patch-size', 2, 8), 8)
    .option('--vision-steps <n>', 'steps of vision pretraining with SigLIP\'s image-caption loss on simulator scenes (0: none); the tower is then frozen unless --unfreeze-vision', intArg('vision-steps', 0), 0)
    .option('--vision-envs <list>', 'environments of the vision stage\'s scenes', envListArg, ['A', 'B', 'C'] as EnvName[]);
}

export function registerReconVLA(program: Command): void {
  addTrainFlags(program.command('train')
    .description('train ReconVLA on a tabletop dataset: VAE, reconstruction pretraining, task fine-tuning')
    .option('--config <name>', 'model config: tiny, or a config.json path', 'tiny')
    .requiredOption('--data <dir>', 'tabletop dataset for fine-tuning (and pretraining unless --pretrain-data)')
    .option('--pretrain-data <dir>', 'dataset for the VAE and reconstruction pretraining stages')
    .requiredOption('--out <dir>', 'run folder (checkpoints, log.jsonl, model/)')
    .option('--tasks <list>', 'fine-tune on these task kinds only (default: the dataset\'s); the run remembers them for eval', taskListArg)
    .option('--resume', 'continue from the newest checkpoint in the run folder'), { vae: 150, pretrain: 200, finetune: 600 })
    .action(async (f: TrainFlags) => {
      await loadLib();
      const backend = await makeBackend(f.backend);
      await runTraining(trainConfig(f), f.out, backend, f.resume === true);
    });

  registerPictures(program, 'reconstruct', 'gaze reconstructions: frame | real target (gaze crop; the frame for --recon-target full) | VAE round trip | reconstruction from the recon tokens',
    'which frames, and the sampling noise', writeReconstructions);
  registerPictures(program, 'attention', 'attention maps of the text and action tokens over the image patches, drawn over the frame',
    'which frames', writeAttention);

  program.command('demo')
    .description('the whole pipeline of a preset: demonstrations on A,B,C, every training stage, closed-loop evaluation on new scenes and on D, pictures')
    .option('--preset <name>', `recipe: ${Object.keys(PRESETS).join(' or ')}`, 'demo')
    .option('--out <dir>', 'folder for the dataset, the run, the evaluation and the pictures', 'runs/demo')
    .option('--seed <n>', 'seed of the data, the initialisation and the batches', intArg('seed', 0), 0)
    .option('--episodes <n>', 'override the preset\'s number of demonstration episodes', intArg('episodes', 1))
    .option('--finetune-steps <n>', 'override the preset\'s fine-tuning steps', intArg('finetune-steps', 1))
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'wasm' as BackendFlag)
    .action(async (o: { preset: string; out: string; seed: number; episodes?: number; finetuneSteps?: number; backend: BackendFlag }) => {
      await loadLib();
      const preset = presetNamed(o.preset);
      const t0 = Date.now();
      console.log(`preset ${preset.name}: ${preset.description}`);
      const data = path.join(o.out, 'data');
      const d = { ...preset.data, episodes: o.episodes ?? preset.data.episodes };
      await writeDataset(data, { ...d, seed: o.seed });
      const runDir = path.join(o.out, 'run');
      const backend = await makeBackend(o.backend);
      const flags = presetTrainFlags(preset, { data, out: runDir, backend: o.backend, seed: o.seed, finetuneSteps: o.finetuneSteps });
      // Resumable: a run folder with a checkpoint continues where it stopped (its own saved config).
      const resume = R.latestCheckpoint(path.join(runDir, 'checkpoints')) !== null;
      if (resume) console.log(`resuming ${runDir} from its newest checkpoint`);
      const model = await runTraining(trainConfig(flags), runDir, backend, resume);
      const e = preset.eval;
      const base = { chains: e.chains, perTask: e.perTask, tasks: null, paraphrases: e.paraphrases, objects: e.objects, maxSteps: e.maxSteps, seed: 1000 + o.seed, model: path.join(runDir, 'model') };
      const evalResult = await runEvaluation(model, { ...base, envs: e.envs, image: 'normal', json: path.join(o.out, 'eval.json'), method: `ReconVLA tiny (${preset.name})` });
      const black = e.blackEnv ? await runEvaluation(model, { ...base, envs: [e.blackEnv], image: 'black', json: path.join(o.out, 'eval-black.json'), method: `ReconVLA tiny (${preset.name}), black images` }) : null;
      const pictures = path.join(o.out, 'pictures');
      mkdirSync(pictures, { recursive: true });
      await writeReconstructions(model, data, pictures, 4, 7);
      await writeAttention(model, data, pictures, 4, 7);
      const seconds = (Date.now() - t0) / 1000;
      writeFileSync(path.join(o.out, 'summary.json'), JSON.stringify({ preset, seed: o.seed, seconds, backend: backend.name, eval: evalResult.rows.map(summaryRow), black: black?.rows.map(summaryRow) ?? null }, null, 2) + '\n');
      console.log(`demo done in ${seconds.toFixed(0)} s (backend ${backend.name}); ${path.join(o.out, 'summary.json')}, pictures in ${pictures}`);
    });
}

/** The `train` flags of a preset's model and stages (ReconVLA with gaze reconstruction; ablations override). */
export function presetTrainFlags(preset: Preset, o: { data: string; out: string; backend: BackendFlag; seed: number; finetuneSteps?: number | undefined }): TrainFlags {
  const st = preset.stages, m = preset.model;
  return {
    config: 'tiny', data: o.data, out: o.out, backend: o.backend, vaeSteps: st.vae, pretrainSteps: st.pretrain, finetuneSteps: o.finetuneSteps ?? st.finetune,
    batchSize: st.batchSize, lr: st.lr, seed: o.seed, recon: true, reconTarget: 'gaze', layout: 'instr-image-instr', chunk: m.chunk,
    views: m.views, stateEncoding: m.stateEncoding, unfreezeVision: m.unfreezeVision, denoiserRepeat: m.denoiserRepeat,
    llmWidth: m.llmWidth, llmLayers: m.llmLayers, actionBins: m.actionBins, patchSize: m.patchSize, grounding: m.grounding, locatorSteps: 0, visionSteps: st.vision, visionEnvs: preset.data.envs,
  };
}

/** One evaluation row reduced to what the demo summary reports. */
function summaryRow(r: EvalSuiteRow): Record<string, unknown> {
  return { env: r.env, paraphrases: r.paraphrases, objects: r.objects, first_task: r.first_task, avg_len: r.chains?.avg_len ?? null, success: r.chains?.success ?? null };
}

/** Writes the preset's demonstrations unless the folder already holds exactly that dataset. */
export async function writeDataset(out: string, d: Preset['data'] & { seed: number }): Promise<void> {
  if (existsSync(path.join(out, 'dataset.json'))) {
    const have = DatasetReader.open(out).index;
    if (have.demonstrations === d.episodes && have.relabel === d.relabel && have.seed === d.seed && have.noise === d.noise && have.envs.join() === d.envs.join()
      && (have.task_filter ?? null)?.join() === d.tasks?.join() && have.random_start === d.randomStart
      && (have.random_fixtures ?? false) === (d.randomFixtures ?? false)) {
      console.log(`dataset: ${out} already holds these ${d.episodes} demonstrations${d.relabel ? ` (+${d.relabel} relabelled copies each)` : ''}`);
      return;
    }
  }
  const t0 = Date.now();
  const bar = new cliProgress.SingleBar({ format: 'generate [{bar}] {value}/{total} episodes | eta {eta_formatted}', stream: process.stderr, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  bar.start(d.episodes, 0);
  const index = generateDataset({ out, envs: d.envs, episodes: d.episodes, seed: d.seed, noise: d.noise, randomStart: d.randomStart, randomFixtures: d.randomFixtures ?? false, relabel: d.relabel, ...(d.tasks ? { tasks: d.tasks } : {}), onEpisode: (done) => bar.update(done) });
  bar.stop();
  console.log(`dataset: ${index.demonstrations} demonstrations, ${index.episodes} episodes with the relabelled copies, ${index.frames} frames on envs ${d.envs.join(',')} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

type PictureWriter = typeof writeReconstructions;

/** `reconstruct` and `attention`: load a run, pick frames from a dataset, write PNGs. */
function registerPictures(program: Command, name: string, description: string, seedHelp: string, write: PictureWriter): void {
  program.command(name)
    .description(description)
    .option('--run <dir>', 'run folder')
    .option('--model <dir>', 'an exported model folder (reconvla export), instead of --run')
    .requiredOption('--out <dir>', 'folder for the PNGs')
    .option('--data <dir>', 'dataset to take frames from (default: the run\'s fine-tuning data)')
    .option('--count <n>', 'frames', intArg('count', 1), 6)
    .option('--seed <n>', seedHelp, intArg('seed', 0), 7)
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'wasm' as BackendFlag)
    .action(async (o: { run?: string; model?: string; out: string; data?: string; count: number; seed: number; backend: BackendFlag }) => {
      await loadLib();
      const { model, train } = R.loadRunOrFolder(o, await makeBackend(o.backend));
      const data = o.data ?? train?.stages.at(-1)?.data;
      if (!data) throw new Error('no --data and the run does not name its dataset');
      mkdirSync(o.out, { recursive: true });
      console.log(`wrote ${(await write(model, data, o.out, o.count, o.seed)).file}`);
    });
}
