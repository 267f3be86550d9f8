// A model folder as upstream's: config.json (the nested ReconVLA config) and model.safetensors
// keyed by ReconQwen2ForCausalLM state-dict names. Upstream checkpoints hold only the VAE's
// encoder; ours hold the decoder too (it draws the gaze reconstructions), and loading accepts both.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromSafetensors, saveSafetensors, StateDictError, tidy, type Backend } from '@reconvla/core';
import { parseReconVLAConfig } from './config.ts';
import { ReconVLA } from './model.ts';

const DECODER = 'model.pixel_decoder.pixel_decoder.decoder.';

export async function savePretrained(model: ReconVLA, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await saveSafetensors(path.join(dir, 'model.safetensors'), model.stateDict(), { metadata: { format: 'pt' } });
  const tmp = path.join(dir, 'config.json.tmp');
  fs.writeFileSync(tmp, JSON.stringify(model.config.json, null, 2) + '\n');
  fs.renameSync(tmp, path.join(dir, 'config.json'));
}

export function loadPretrained(dir: string, opts: { backend?: Backend } = {}): ReconVLA {
  const config = parseReconVLAConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
  const model = new ReconVLA(config, opts);
  tidy(() => {
    const sd = fromSafetensors(path.join(dir, 'model.safetensors'), opts.backend ? { backend: opts.backend } : {});
    const r = model.loadStateDict(sd, { strict: false });
    const missing = r.missing.filter((k) => !k.startsWith(DECODER));
    if (missing.length || r.unexpected.length || r.mismatched.length) throw new StateDictError({ ...r, missing }, `ReconVLA.fromPretrained(${dir})`);
  });
  return model;
}
