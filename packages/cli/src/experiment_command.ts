// `reconvla experiment`: the paper's ablations on the tabletop, every variant x seed, and the
// report made from the runs' JSONs (`--report-only` re-creates it without training).
import { InvalidArgumentError, type Command } from 'commander';
import { backendArg, intArg, type BackendFlag } from './args.ts';
import { EXPERIMENT_PRESETS, experimentPresetNamed } from './presets.ts';
import { writeReport } from './experiment/report.ts';
import { runExperiment } from './experiment/run_experiment.ts';
import { PAPER_VARIANTS, variantListArg, type Variant } from './experiment/variants.ts';

function seedListArg(v: string): number[] {
  const seeds = v.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  if (seeds.length === 0 || seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new InvalidArgumentError(`--seeds: expected non-negative integers such as 0,1,2, got "${v}"`);
  if (new Set(seeds).size !== seeds.length) throw new InvalidArgumentError(`--seeds: "${v}" names a seed twice`);
  return seeds;
}

interface ExperimentFlags { out: string; variants: Variant[]; seeds: number[]; preset: string; backend: BackendFlag; finetuneSteps?: number; reportOnly?: boolean }

/** `argv`: what main() parses (quoted in experiment.json and the report). */
export function registerExperiment(program: Command, argv: readonly string[]): void {
  program.command('experiment')
    .description('train and evaluate every variant x seed on the same data and chains (resumable), then write DIR/report.md with tables, intervals and pictures')
    .requiredOption('--out <dir>', 'experiment folder (data, runs/<variant>-seed<k>/, report.md)')
    .option('--variants <list>', `variants: ${PAPER_VARIANTS.join(', ')}, or train switches such as views=static+state-encoding=bins`, variantListArg, variantListArg(PAPER_VARIANTS.join(',')))
    .option('--seeds <list>', 'run seeds (initialisation and batch order; the data and chains stay the same)', seedListArg, [0, 1, 2])
    .option('--preset <name>', `recipe: ${Object.keys(EXPERIMENT_PRESETS).join(' or ')}`, 'ablation')
    .option('--finetune-steps <n>', 'override the preset\'s fine-tuning steps', intArg('finetune-steps', 1))
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'wasm' as BackendFlag)
    .option('--report-only', 'only (re)write the report from the finished runs\' JSONs')
    .action(async (f: ExperimentFlags) => {
      const command = `reconvla ${argv.slice(2).join(' ')}`;
      if (!f.reportOnly) {
        const t0 = Date.now();
        await runExperiment({ out: f.out, preset: experimentPresetNamed(f.preset), variants: f.variants, seeds: f.seeds, backend: f.backend, command, ...(f.finetuneSteps ? { finetuneSteps: f.finetuneSteps } : {}) });
        console.log(`experiment finished in ${((Date.now() - t0) / 3600000).toFixed(2)} h`);
      }
      const { file } = await writeReport(f.out, { command });
      console.log(`wrote ${file}`);
    });
}
