// A training run in a process of its own, for the signal tests (train_signals.test.ts): the tiny
// test model fine-tuned on the synthetic source on the wasm backend (two threads, as the
// in-process tests' wasm backend), checkpoints only at the end unless a signal asks for one.
//   node --import tsx train_child.ts RUN_DIR STEPS [--resume]
// Prints `step N` after every step, so the parent knows when to send its signal.
import { createWasmBackend } from '@reconvla/core';
import { Trainer } from '../src/index.ts';
import { stage, syntheticSource, trainConfig } from './synthetic.ts';

const [runDir, steps, flag] = process.argv.slice(2);
if (!runDir || !steps) throw new Error('usage: train_child.ts RUN_DIR STEPS [--resume]');
const backend = createWasmBackend({ threads: 2 });
const trainer = Trainer.create(trainConfig([stage('finetune', Number(steps))], undefined, { checkpointEvery: 1000, logEvery: 1000 }), {
  runDir, backend, source: () => syntheticSource(), resume: flag === '--resume',
  onStep: (_stage, step) => process.stdout.write(`step ${step}\n`),
});
await trainer.run();
process.stdout.write('done\n');
backend.close();
