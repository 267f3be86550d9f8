// `reconvla export --run RUN --out DIR`: a trained run as a Hugging Face-style model folder
// (model_folder.ts: config.json, model.safetensors or its shards and index, the tokenizer files)
// with a README model card: what the model is, the data and stages it was trained on, the last
// logged losses, and every evaluation found beside the run. The same folder is what `--model DIR`
// loads in every command, and what the PyTorch twin (python/reconvla_twin) reads and writes.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { createBackend } from '@reconvla/core';
import type { ReconVLA, TrainConfig } from '@reconvla/reconvla';
import { DatasetReader } from '@reconvla/tabletop';
import { backendArg, type BackendFlag } from './args.ts';
import type { EvalSuiteResult } from './eval_command.ts';

/** The evaluation JSONs of a run: RUN/*.json with rows and options, and the demo's OUT/eval*.json beside RUN. */
export function findEvaluations(runDir: string): { file: string; result: EvalSuiteResult }[] {
  const dirs = [runDir];
  const parent = path.dirname(path.resolve(runDir));
  if (existsSync(path.join(parent, 'summary.json'))) dirs.push(parent); // `reconvla demo` writes its evaluations beside run/
  const found: { file: string; result: EvalSuiteResult }[] = [];
  for (const dir of dirs) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
      try {
        const j = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as EvalSuiteResult;
        if (Array.isArray(j.rows) && j.options && typeof j.options === 'object') found.push({ file: path.join(dir, f), result: j });
      } catch { /* not an evaluation */ }
    }
  }
  return found;
}

/** The last logged entry of each stage in RUN/log.jsonl. */
function lastLosses(runDir: string): Map<string, Record<string, number | null>> {
  const file = path.join(runDir, 'log.jsonl');
  const last = new Map<string, Record<string, number | null>>();
  if (!existsSync(file)) return last;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try { const e = JSON.parse(line) as Record<string, number | null> & { stage: string }; last.set(e.stage, e); } catch { /* a torn last line */ }
  }
  return last;
}

const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;
const fmt = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : x.toFixed(4));

function dataLine(dir: string): string {
  try {
    const ix = DatasetReader.open(dir).index;
    return `\`${dir}\`: ${ix.episodes} expert episodes, ${ix.frames} frames, environments ${ix.envs.join(',')}, tasks ${ix.task_filter?.join(', ') ?? 'all'}, action noise ${ix.noise}, seed ${ix.seed}`;
  } catch {
    return `\`${dir}\` (not found when exporting)`;
  }
}

function evalSection(evals: { file: string; result: EvalSuiteResult }[]): string[] {
  if (evals.length === 0) return ['No evaluation was found beside the run. Evaluate the exported folder with `npx reconvla eval --model DIR --env D`.', ''];
  const lines: string[] = [];
  for (const { file, result: r } of evals) {
    const o = r.options;
    lines.push(`**${path.basename(file)}**: ${r.method}; ${o.chains} chains and ${o.per_task} single-task episodes per task per row, ${o.max_steps} steps per task, images ${o.image}, decoding ${o.decoding ?? 'argmax'}, seed ${o.seed}.`, '');
    lines.push('| env · instructions · objects | chains: avg len | 1/5 .. 5/5 | first task (95% CI) | single tasks (95% CI) |', '|:--|--:|:--|:--|:--|');
    for (const row of r.rows) {
      const c = row.chains, s = row.single?.overall, f = row.first_task;
      const ci = (t: { successes: number; attempts: number; ci95: number[] } | null | undefined): string => (t && t.attempts > 0 ? `${t.successes}/${t.attempts} (${pct(t.successes / t.attempts)}, ${pct(t.ci95[0]!)}-${pct(t.ci95[1]!)})` : '-');
      lines.push(`| ${row.env} · ${row.paraphrases} · ${row.objects} | ${c ? c.avg_len.toFixed(2) : '-'} | ${c ? c.success.map(pct).join(' ') : '-'} | ${ci(f)} | ${ci(s)} |`);
    }
    lines.push('');
  }
  return lines;
}

/** A `reconvla train` command line that rebuilds this training config (the run folder does not keep the one typed). */
export function trainCommand(train: TrainConfig, c: ReconVLA['config'], runDir: string): string {
  const stage = (kind: string) => train.stages.find((s) => s.kind === kind);
  const fine = stage('finetune'), pre = stage('pretrain') ?? stage('vae'), vision = stage('vision');
  const args = ['npx reconvla train', `--data ${fine?.data ?? 'DATA'}`, `--out ${runDir}`];
  if (pre && fine && pre.data !== fine.data) args.push(`--pretrain-data ${pre.data}`);
  args.push(`--vae-steps ${stage('vae')?.steps ?? 0}`, `--pretrain-steps ${stage('pretrain')?.steps ?? 0}`, `--finetune-steps ${fine?.steps ?? 0}`);
  if (fine) args.push(`--batch-size ${fine.batchSize}`, `--lr ${fine.lr}`);
  args.push(`--seed ${train.seed}`, `--views ${c.views.join(',')}`, `--state-encoding ${c.prompt.stateEncoding}`, `--chunk ${c.prompt.actionChunk}`,
    `--action-bins ${c.actionTokenizer.nBins}`, `--denoiser-repeat ${c.denoiser.repeat}`, `--llm-width ${c.llm.hiddenSize}`, `--llm-layers ${c.llm.numHiddenLayers}`);
  if (c.ablation.unfreezeVisionTower) args.push('--unfreeze-vision');
  if (!c.ablation.recon) args.push('--no-recon');
  if (c.ablation.reconTarget !== 'gaze') args.push(`--recon-target ${c.ablation.reconTarget}`);
  if (c.prompt.layout !== 'instr-image-instr') args.push(`--layout ${c.prompt.layout}`);
  if (c.tasks) args.push(`--tasks ${c.tasks.join(',')}`);
  if (vision) args.push(`--vision-steps ${vision.steps}`, `--vision-envs ${vision.data}`);
  if (c.vision.patchSize !== 8) args.push(`--patch-size ${c.vision.patchSize}`);
  if (c.prompt.groundingTokens > 0) args.push(c.prompt.groundingTokens === 2 ? '--grounding' : '--grounding all');
  if (c.prompt.binFourierBands > 0) args.push(`--bin-features ${c.prompt.binFourierBands}`);
  if (c.locator) args.push('--locator', ...(c.locator.freeze ? ['--freeze-locator'] : []));
  const locator = stage('locator');
  if (locator) args.push(`--locator-steps ${locator.steps}`, ...(locator.tasks ? [`--locator-tasks ${locator.tasks.join(',')}`] : []));
  if (train.initFrom) args.push(`--init-from ${train.initFrom.path}`, ...(train.initFrom.prefixes.join() !== '' ? [`--init-keys ${train.initFrom.prefixes.join(',')}`] : []));
  return args.join(' ');
}

/** The README: model, data, training, evaluation and how to use it, all read from the run folder. */
export function modelCard(model: ReconVLA, runDir: string, train: TrainConfig | null, outDir: string): string {
  const c = model.config;
  const params = [...model.namedParameters()].reduce((s, [, p]) => s + p.size, 0);
  const name = path.basename(path.resolve(runDir));
  const lines = [
    '---',
    'library_name: reconvla-ts',
    'pipeline_tag: robotics',
    'tags: [vision-language-action, reconvla, tabletop-simulator]',
    '---',
    `# ReconVLA (tiny) — ${name}`,
    '',
    'A ReconVLA policy (SigLIP vision tower -> Qwen2 emitting action tokens; a DiT denoiser reconstructs the VAE latent of the gaze crop from the LLM\'s outputs at the image positions) trained from scratch with reconvla-ts on its built-in tabletop simulator.',
    '',
    '## Model',
    `- ${params.toLocaleString('en-US')} parameters; Qwen2 ${c.llm.numHiddenLayers} layers x ${c.llm.hiddenSize} (vocab ${c.llm.vocabSize}), SigLIP ${c.vision.numHiddenLayers} layers x ${c.vision.hiddenSize} at ${c.vision.imageSize}x${c.vision.imageSize} (patch ${c.vision.patchSize}), DiT depth ${c.denoiser.depth} x ${c.denoiser.embedDim}`,
    `- cameras ${c.views.join(' + ')}, state encoding ${c.prompt.stateEncoding}, ${c.prompt.actionChunk} action(s) of ${c.prompt.actionDim} values per call, ${c.actionTokenizer.nBins} bins per value, reconstruction ${c.ablation.recon ? c.ablation.reconTarget : 'off'}`,
    `- tasks: ${c.tasks?.join(', ') ?? 'all'}`,
    '',
    '## Files',
    '- `config.json`: the ReconQwen2 config (Qwen2 keys, upstream\'s `mm_*` keys, nested `vision_config`, `vae_config`, `denoiser_config`, `action_tokenizer`, `prompt`)',
    '- `model.safetensors` (or `model.safetensors.index.json` and its shards): weights under ReconQwen2ForCausalLM\'s state-dict names',
    '- `vocab.json`, `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`: the word-level instruction tokenizer; action bins are the top ids',
    ...(train ? ['- `train.json`: the training config of the run'] : []),
    '',
    '## Training data and stages',
  ];
  if (!train) lines.push('The run folder has no train.json.');
  else {
    const losses = lastLosses(runDir);
    for (const [i, s] of train.stages.entries()) {
      const l = losses.get(s.name);
      const data = s.kind === 'vision' ? `scenes of environments ${s.data}` : dataLine(s.data);
      lines.push(`${i + 1}. **${s.name}** (${s.kind}): ${s.steps} steps, batch ${s.batchSize}, lr ${s.lr}; data ${data}` +
        (l ? `; last logged loss ${fmt(l.loss)} (lm ${fmt(l.lm)}, vm ${fmt(l.vm)}) at step ${l.step}` : ''));
    }
    lines.push('', `Seed ${train.seed}. A command that rebuilds this training config (the tiny config with these options):`, '', '```sh', trainCommand(train, c, runDir), '```');
  }
  lines.push('', '## Evaluation (closed loop in the tabletop simulator)', '', ...evalSection(findEvaluations(runDir)));
  lines.push(
    '## Use',
    '```sh',
    `npx reconvla eval --model ${outDir} --env D --chains 20             # closed-loop evaluation`,
    `npx reconvla batch --model ${outDir} --data DATASET --out batch.safetensors`,
    `npx reconvla loss --model ${outDir} --batch batch.safetensors --json  # lm, vm and total loss of one batch`,
    `torchrun --nproc_per_node=2 python/train_ddp.py --model ${outDir} --data DATASET --out OUT   # continue training in PyTorch`,
    '```',
    '',
    'In Python (`python/reconvla_twin`, torch only): `load_reconvla(folder)` gives the same model; `.losses(batch)` the same losses on a batch file.',
    '',
    '## Limitations',
    'A tiny model trained on a simulator: it is a test bed for the method and the code, not a policy for real robots. Instructions outside the vocabulary map to `<unk>`.',
    '',
  );
  return lines.join('\n');
}

interface ExportFlags { run?: string; model?: string; out: string; maxShardSize: string; force?: boolean; backend: BackendFlag }

export function registerExport(program: Command): void {
  program.command('export')
    .description('write a trained run as a Hugging Face-style model folder: config.json, model.safetensors (sharded past --max-shard-size), tokenizer files, README model card')
    .option('--run <dir>', 'run folder (its model/, or its newest checkpoint)')
    .option('--model <dir>', 'an exported model folder instead (e.g. to reshard it, or to add the evaluations written into it)')
    .requiredOption('--out <dir>', 'the model folder to write')
    .option('--max-shard-size <size>', 'shard the weights past this size, e.g. 5GB, 500MB or bytes (Hugging Face\'s default 5GB)', '5GB')
    .option('--force', 'replace an existing folder')
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'cpu' as BackendFlag)
    .action(async (f: ExportFlags) => {
      const R = await import('@reconvla/reconvla');
      const maxShardBytes = R.parseShardSize(f.maxShardSize);
      const { model, train, from } = R.loadRunOrFolder(f, await createBackend(f.backend));
      const extraFiles: Record<string, string> = { 'README.md': modelCard(model, (f.run ?? f.model)!, train, f.out) };
      if (train) extraFiles['train.json'] = JSON.stringify(train, null, 2) + '\n';
      const w = await R.writeModelFolder(model, f.out, { maxShardBytes, extraFiles, force: f.force === true });
      console.log(`exported ${from} to ${w.dir}: ${w.files.join(', ')} (${(w.bytes / 1e6).toFixed(1)} MB of weights${w.sharded ? ', sharded' : ''})`);
    });
}
