// Entry of the `reconvla` command line. Each subcommand lives in its own file and
// registers itself on the commander program; this file only wires them together.
import { Command, CommanderError } from 'commander';
import { registerAccuracy } from './accuracy_command.ts';
import { registerDagger } from './dagger_command.ts';
import { registerDoctor } from './doctor.ts';
import { registerEval } from './eval_command.ts';
import { registerExperiment } from './experiment_command.ts';
import { registerExport } from './export_command.ts';
import { registerLoss } from './loss_command.ts';
import { registerInspect } from './inspect.ts';
import { registerReconVLA } from './reconvla_commands.ts';
import { registerSim } from './sim.ts';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('reconvla')
    .description('ReconVLA in TypeScript: tensors, models, simulator, training and evaluation')
    .exitOverride();
  registerDoctor(program);
  registerSim(program);
  registerReconVLA(program);
  registerEval(program);
  registerDagger(program);
  registerExperiment(program, argv);
  registerInspect(program);
  registerExport(program);
  registerLoss(program);
  registerAccuracy(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    console.error(`reconvla: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
