// `reconvla accuracy --run DIR --data DIR`: how closely a policy imitates the expert on a
// dataset's demonstrations (teacher-forced: the true frame, instruction, state and previous
// tokens), per task and overall. A graded measure where closed-loop success is 0 everywhere;
// with `sim generate --fixtures-from` it separates an env's look from its layout.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { createBackend } from '@reconvla/core';
import { backendArg, type BackendFlag } from './args.ts';
import { exactDxDy } from './experiment/heldout.ts';
import { mean } from './experiment/stats.ts';

interface AccuracyFlags { run?: string; model?: string; data: string; json?: string; backend: BackendFlag }

export function registerAccuracy(program: Command): void {
  program.command('accuracy')
    .description('teacher-forced action accuracy on every demonstration of a dataset: exact action tokens, dx/dy, mean absolute error, per task and overall')
    .option('--run <dir>', 'run folder')
    .option('--model <dir>', 'an exported model folder (reconvla export), instead of --run')
    .requiredOption('--data <dir>', 'tabletop dataset (e.g. `reconvla sim generate --envs D ...`)')
    .option('--json <file>', 'also write every episode\'s numbers here')
    .option('--backend <name>', 'cpu, wasm, webgpu or auto', backendArg, 'wasm' as BackendFlag)
    .action(async (f: AccuracyFlags) => {
      const R = await import('@reconvla/reconvla');
      const S = await import('@reconvla/reconvla/sim');
      const { model, from } = R.loadRunOrFolder(f, await createBackend(f.backend));
      const a = await S.datasetAccuracy(model, f.data);
      const row = (name: string, eps: typeof a.episodes): string =>
        `${name.padEnd(18)} ${String(eps.length).padStart(8)} ${(100 * mean(eps.map((e) => e.exact))).toFixed(1).padStart(7)}% ${(100 * mean(eps.map(exactDxDy))).toFixed(1).padStart(9)}% ${mean(eps.map((e) => e.mae)).toFixed(4).padStart(9)}`;
      console.log(`${from} on ${f.data} (teacher-forced; means over episodes)`);
      console.log(`${'task'.padEnd(18)} episodes   exact  exact dx,dy  abs. err`);
      for (const task of [...new Set(a.episodes.map((e) => e.task))]) console.log(row(task, a.episodes.filter((e) => e.task === task)));
      console.log(row('all', a.episodes));
      if (f.json) writeFileSync(f.json, `${JSON.stringify({ model: from, data: f.data, ...a }, null, 1)}\n`);
    });
}
