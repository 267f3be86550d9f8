// A model folder as upstream's: config.json (the nested ReconVLA config) and model.safetensors
// keyed by ReconQwen2ForCausalLM state-dict names. Upstream checkpoints hold only the VAE's
// encoder; ours hold the decoder too (it draws the gaze reconstructions). Loading accepts both
// and says which it was: every load returns a report of what was loaded, ignored, freshly
// initialised and converted, and can log it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCheckpoint, saveSafetensors, type Backend } from '@reconvla/core';
import { formatLoadReport, loadCheckpointInto, type LoadReport } from '@reconvla/qwen2';
import { parseReconVLAConfig } from './config.ts';
import { checkStoredWordIds, writeConfigJson } from './config_json.ts';
import { ReconVLA } from './model.ts';

/** The VAE decoder's keys: absent from upstream's checkpoints, which only encode targets. */
export const VAE_DECODER_PREFIX = 'model.pixel_decoder.pixel_decoder.decoder.';

const NO_DECODER = 'the checkpoint has no VAE decoder (upstream keeps only the encoder): gaze reconstructions will be drawn by an untrained decoder';

export interface LoadPretrainedOptions {
  backend?: Backend;
  /**
   * Missing, unexpected or mis-shaped tensors throw, naming them (default true). The VAE decoder
   * may always be missing (reported as freshly initialised). With false, missing tensors keep
   * their initialisation and unexpected ones are skipped; both are in the report.
   */
  strict?: boolean;
  /** Where the report goes: a function called once per line, or true for console.warn. */
  log?: boolean | ((line: string) => void);
}

export async function savePretrained(model: ReconVLA, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await saveSafetensors(path.join(dir, 'model.safetensors'), model.stateDict(), { metadata: { format: 'pt' } });
  writeConfigJson(dir, model.config);
}

/** The model of a folder and the report of its load. */
export function loadPretrainedWithReport(dir: string, opts: LoadPretrainedOptions = {}): { model: ReconVLA; report: LoadReport } {
  const where = `loadPretrained(${dir})`;
  const configPath = path.join(dir, 'config.json');
  if (!fs.existsSync(configPath)) throw new Error(`${where}: no config.json in the folder`);
  let json: unknown;
  try { json = JSON.parse(fs.readFileSync(configPath, 'utf8')); } catch (e) { throw new Error(`${configPath}: ${(e as Error).message}`); }
  const config = parseReconVLAConfig(json);
  checkStoredWordIds(config.json, configPath);
  const model = new ReconVLA(config, opts.backend ? { backend: opts.backend } : {});
  const ckpt = openCheckpoint(dir);
  let report: LoadReport;
  try {
    report = loadCheckpointInto(model, ckpt, model.backend, {
      strict: opts.strict ?? true, where,
      allowMissing: (key) => (key.startsWith(VAE_DECODER_PREFIX) ? NO_DECODER : null),
    });
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    ckpt.close();
  }
  if (opts.log) {
    const log = typeof opts.log === 'function' ? opts.log : (line: string) => console.warn(line);
    for (const line of formatLoadReport(report, where)) log(line);
  }
  return { model, report };
}

/** The model of a folder (see loadPretrainedWithReport for what the load did; `log` prints it). */
export function loadPretrained(dir: string, opts: LoadPretrainedOptions = {}): ReconVLA {
  return loadPretrainedWithReport(dir, opts).model;
}

/** True when the folder's checkpoint lacked the VAE decoder (it is freshly initialised). */
export function decoderWasInitialised(report: LoadReport): boolean {
  return report.initialised.some((e) => e.name.startsWith(VAE_DECODER_PREFIX));
}
