// The page: ReconVLA on the browser's own WebGPU. It reports the adapter, checks a few ops
// against the CPU backend, loads a tiny ReconVLA model folder served beside the page (./model/,
// or ?model=URL), or without one (or with ?train=STEPS) trains a fresh one for a few steps on
// expert demonstrations it records, then renders the tabletop simulator in a canvas and runs the
// policy live, drawing the attention of the action tokens over the camera image. Everything it
// measures is also in window.reconvla, for the test that drives it (test/browser_page.test.ts).
import { bf16BitsToF32, createCpuBackend, decodeF16, F, type Backend, type Tensor } from '@reconvla/core';
import { browserAdapterInfo, createBrowserWebGPUBackend } from '@reconvla/core/browser';
import { attentionMap, gazeShare, overlayAttention, parseReconVLAConfig, Processor, ReconVLA, type AttentionMap } from '@reconvla/reconvla';
import { observationViews, reconvlaPolicy } from '@reconvla/reconvla/sim';
import { instructionFor, Rng, sampleTask, TabletopEnv, type Observation } from '@reconvla/tabletop';
import { checkParity, type ParityRow } from './parity.ts';
import { trainInPage, type TrainRow } from './train.ts';

interface StepRow { step: number; action: number[]; ms: number; success: boolean }
interface PageReport {
  stage: 'starting' | 'parity' | 'loading' | 'training' | 'running' | 'done' | 'error';
  adapter: Record<string, string> | null;
  parity: ParityRow[];
  model: { url: string; tensors: number; freshlyInitialised: string[]; unexpected: string[] } | null;
  /** The page's own training steps (none when it loaded a folder). */
  training: TrainRow[];
  instruction: string | null;
  steps: StepRow[];
  attention: { imageShare: number; gazeShare: number | null } | null;
  error: string | null;
}

const report: PageReport = { stage: 'starting', adapter: null, parity: [], model: null, training: [], instruction: null, steps: [], attention: null, error: null };
(globalThis as { reconvla?: PageReport }).reconvla = report;

const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') ?? './model/';
const maxSteps = Number(params.get('steps') ?? 60);
const seed = Number(params.get('seed') ?? 1);
const trainSteps = params.get('train');
/** Steps the page trains for when there is no model folder to load. */
const DEFAULT_TRAIN_STEPS = 20;

const $ = (id: string): HTMLElement => document.getElementById(id)!;
function log(text: string): void { $('log').textContent += `${text}\n`; }

function draw(canvasId: string, image: { width: number; height: number; data: Uint8Array }): void {
  const canvas = $(canvasId) as HTMLCanvasElement;
  const rgba = new ImageData(image.width, image.height);
  for (let i = 0, j = 0; i < image.data.length; i += 3, j += 4) {
    rgba.data[j] = image.data[i]!; rgba.data[j + 1] = image.data[i + 1]!; rgba.data[j + 2] = image.data[i + 2]!; rgba.data[j + 3] = 255;
  }
  const tmp = new OffscreenCanvas(image.width, image.height);
  tmp.getContext('2d')!.putImageData(rgba, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

/** The gaze box (what the task acts on) drawn over a canvas showing a width x height image. */
function outline(canvasId: string, box: { x0: number; y0: number; x1: number; y1: number }, width: number, height: number): void {
  const canvas = $(canvasId) as HTMLCanvasElement;
  const ctx = canvas.getContext('2d')!;
  const sx = canvas.width / width, sy = canvas.height / height;
  ctx.strokeStyle = '#00e5ff';
  ctx.lineWidth = 2;
  ctx.strokeRect(box.x0 * sx, box.y0 * sy, (box.x1 - box.x0) * sx, (box.y1 - box.y0) * sy);
}

/** A safetensors file's tensors (F32, F16, BF16 as float32; I32), read from its bytes. */
function parseSafetensors(bytes: Uint8Array, file: string): Map<string, { shape: number[]; data: Float32Array | Int32Array }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const raw = bytes.slice(8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]); // a copy: aligned for the typed views
    const data = e.dtype === 'F32' ? new Float32Array(raw.buffer)
      : e.dtype === 'I32' ? new Int32Array(raw.buffer)
      : e.dtype === 'F16' ? decodeF16(new Uint16Array(raw.buffer))
      : e.dtype === 'BF16' ? Float32Array.from(new Uint16Array(raw.buffer), bf16BitsToF32)
      : null;
    if (!data) throw new Error(`${file}: ${name} is ${e.dtype} (the page reads F32, F16, BF16 and I32)`);
    out.set(name, { shape: e.shape, data });
  }
  return out;
}

/** config.json + model.safetensors of a model folder, fetched and loaded onto the backend. */
async function loadFolder(url: string, backend: Backend): Promise<ReconVLA> {
  const get = async (file: string): Promise<Response> => {
    const r = await fetch(new URL(file, new URL(url, location.href)));
    if (!r.ok) throw Object.assign(new Error(`${url}${file}: HTTP ${r.status}`), { status: r.status });
    return r;
  };
  const config = parseReconVLAConfig(await (await get('config.json')).json());
  const tensors = parseSafetensors(new Uint8Array(await (await get('model.safetensors')).arrayBuffer()), `${url}model.safetensors`);
  const model = new ReconVLA(config, { backend });
  const sd = new Map<string, Tensor>();
  for (const [name, t] of tensors) sd.set(name, F.tensor(t.data, t.shape, { backend, ...(t.data instanceof Int32Array ? { dtype: 'int32' as const } : {}) }));
  const r = model.loadStateDict(sd, { strict: false });
  for (const t of sd.values()) t.dispose();
  if (r.mismatched.length) throw new Error(`${url}: mis-shaped tensors: ${r.mismatched.join('; ')}`);
  report.model = { url, tensors: sd.size, freshlyInitialised: r.missing, unexpected: r.unexpected };
  const { llm, views, tasks } = config;
  log(`model ${url}: ${sd.size} tensors, Qwen2 ${llm.numHiddenLayers}x${llm.hiddenSize}, views ${views.join('+')}, tasks ${tasks?.join(', ') ?? 'all'}`
    + `${r.missing.length ? `; ${r.missing.length} freshly initialised (${r.missing[0]}, ...)` : ''}`);
  return model;
}

async function run(): Promise<void> {
  const gpu = await createBrowserWebGPUBackend();
  const cpu = createCpuBackend();
  const info = gpu.rt.acquired.adapter ? browserAdapterInfo(gpu.rt.acquired.adapter) : {};
  report.adapter = info;
  const name = [info.vendor, info.architecture, info.device, info.description].filter((v) => v && v !== '?').join(' ');
  $('adapter').textContent = `${name}${info.isFallbackAdapter === 'true' ? ' (software fallback adapter)' : ''}`;
  log(`adapter: ${name}, max binding ${info.maxStorageBufferBindingSize} B, shader-f16 ${gpu.rt.hasF16}`);

  report.stage = 'parity';
  report.parity = await checkParity(gpu, cpu);
  $('parity').textContent = report.parity.map((r) => `${r.ok ? 'ok ' : 'BAD'} ${r.op.padEnd(10)} [${r.shape.join('x')}] max |webgpu - cpu| = ${r.maxAbsDiff.toExponential(2)}`).join('\n');

  const train = async (steps: number): Promise<ReconVLA> => {
    report.stage = 'training';
    log(`training a fresh tiny ReconVLA for ${steps} steps on expert demonstrations, on WebGPU`);
    return trainInPage(gpu, steps, (row) => {
      report.training.push(row);
      $('status').textContent = `training step ${row.step + 1}/${steps}: loss ${row.loss.toFixed(3)} (action ${row.lm.toFixed(3)}, reconstruction ${row.vm.toFixed(3)}), ${row.ms} ms`;
      if (row.step % 5 === 0 || row.step === steps - 1) log(`train step ${row.step}: loss ${row.loss.toFixed(3)} = action ${row.lm.toFixed(3)} + reconstruction ${row.vm.toFixed(3)} (${row.ms} ms)`);
    }, { seed });
  };
  let model: ReconVLA;
  if (trainSteps !== null) model = await train(Number(trainSteps));
  else {
    report.stage = 'loading';
    try {
      model = await loadFolder(modelUrl, gpu);
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e;
      log(`no model folder at ${modelUrl}`);
      model = await train(DEFAULT_TRAIN_STEPS);
    }
  }
  model.eval();
  const processor = new Processor(model.config);
  const policy = reconvlaPolicy(model);

  const env = new TabletopEnv({ env: 'A', distractors: 1 });
  const rng = new Rng(seed);
  let obs: Observation = env.reset(seed);
  const task = sampleTask(env.state, rng, undefined, (model.config.tasks ?? undefined) as Parameters<typeof sampleTask>[3]);
  if (!task) throw new Error('no feasible task in this scene');
  env.setTask(task);
  obs = env.observe();
  const instruction = instructionFor(env.state, task, rng);
  report.instruction = instruction;
  $('instruction').textContent = instruction;
  draw('scene', obs.static.rgb ? { width: obs.static.width, height: obs.static.height, data: obs.static.rgb } : { width: 1, height: 1, data: new Uint8Array(3) });

  report.stage = 'running';
  for (let step = 0; step < maxSteps; step++) {
    const t0 = performance.now();
    if (step % model.config.prompt.actionChunk === 0) {
      // The attention of the action tokens over the image the policy is about to act on.
      const sample = { images: observationViews(obs, model.config.views), instruction, state: obs.proprio };
      const map: AttentionMap = await attentionMap(model, processor, sample);
      const box = obs.gaze.static;
      report.attention = { imageShare: map.imageShare, gazeShare: box ? gazeShare(map, [box.x0, box.y0, box.x1, box.y1], obs.static.width, obs.static.height) : null };
      draw('attention', overlayAttention({ width: obs.static.width, height: obs.static.height, data: obs.static.rgb }, map));
      if (box) outline('attention', box, obs.static.width, obs.static.height);
    }
    const action = await policy(obs, instruction);
    const { observation, success } = env.step(action);
    obs = observation;
    const row = { step, action: Array.from(action, (v) => Math.round(v * 1000) / 1000), ms: Math.round(performance.now() - t0), success };
    report.steps.push(row);
    draw('scene', { width: obs.static.width, height: obs.static.height, data: obs.static.rgb });
    $('status').textContent = `step ${step + 1}/${maxSteps}: ${row.ms} ms${success ? ' — success' : ''}`;
    if (step % 10 === 0 || success) log(`step ${step}: action [${row.action.map((v) => v.toFixed(2)).join(', ')}] in ${row.ms} ms${success ? ', success' : ''}`);
    if (success) break;
    await new Promise((r) => setTimeout(r, 0)); // let the page paint
  }
  report.stage = 'done';
}

run().catch((e: unknown) => {
  report.stage = 'error';
  report.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  $('status').textContent = `error: ${report.error}`;
});
