// Simulator throughput: how much a training step pays for rendering and stepping.
//   node --import tsx bench/sim.bench.ts [--json FILE]
// Reports the cost of one render of both cameras (128x128 + 64x64), of one kinematic step
// alone, of env.step() with rendering (what closed-loop evaluation pays), and the rate of
// dataset generation (expert + noise + render + copy). The tiny model's training step is
// meant to be >= 20x the env.step() time (rendering+stepping under 5% of a step).
import { writeFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Renderer, Rng, TabletopEnv, expertAction, feasibleTasks, generateDataset, sampleScene, stepWorld, type WorldState,
} from '../packages/tabletop/src/index.ts';

/**
 * Wall-clock median and mean, plus CPU time per call: on a shared, loaded machine the CPU
 * time is the fairer measure of what the simulator itself costs.
 */
function timeIt(runs: number, f: () => void): { medianMs: number; meanMs: number; cpuMs: number } {
  for (let i = 0; i < Math.min(50, runs); i++) f(); // warm up the JIT
  const samples: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    f();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  samples.sort((a, b) => a - b);
  return { medianMs: samples[Math.floor(runs / 2)]!, meanMs: samples.reduce((a, b) => a + b, 0) / runs, cpuMs: (cpu.user + cpu.system) / 1000 / runs };
}

const scene: WorldState = sampleScene(new Rng(3), { env: 'D', distractors: 4 });
const renderer = new Renderer();
const render = timeIt(400, () => renderer.render(scene));
const boundsOnly = timeIt(400, () => renderer.render(scene, false));

// Kinematics alone: random actions on a copy of the scene.
const rng = new Rng(1);
const s = structuredClone(scene);
const actions = Array.from({ length: 1000 }, () => Float32Array.from({ length: 7 }, () => rng.uniform(-1, 1)));
let k = 0;
const physics = timeIt(5000, () => stepWorld(s, actions[k++ % actions.length]!));

// env.step with rendering, driven by the expert so the scene keeps changing.
const env = new TabletopEnv({ env: 'D', distractors: 4 });
let task = null as ReturnType<TabletopEnv['setTask']> | null;
let seed = 0;
const newTask = (): void => {
  env.reset(seed++);
  task = env.setTask(feasibleTasks(env.state)[0]!);
};
newTask();
const envStep = timeIt(2000, () => {
  const r = env.step(expertAction(env.state, task!));
  if (r.success || env.state.step > 250) newTask();
});

const dir = mkdtempSync(join(tmpdir(), 'tabletop-bench-'));
const t0 = process.hrtime.bigint();
const index = generateDataset({ out: dir, envs: ['A', 'B', 'C'], episodes: 20, seed: 0 });
const genSecs = Number(process.hrtime.bigint() - t0) / 1e9;
rmSync(dir, { recursive: true, force: true });

const result = {
  render_ms: render.medianMs,
  render_cpu_ms: render.cpuMs,
  gaze_bounds_only_ms: boundsOnly.medianMs,
  physics_step_us: physics.medianMs * 1000,
  env_step_with_render_ms: envStep.meanMs,
  env_step_with_render_cpu_ms: envStep.cpuMs,
  env_steps_per_s: 1000 / envStep.meanMs,
  generate_frames_per_s: index.frames / genSecs,
  budget_note: 'a training step must take >= 20x env_step_with_render_ms for simulation to stay under 5% of it',
  min_training_step_ms_for_5pct: 20 * envStep.meanMs,
};
console.log('| measure | value |');
console.log('|:--|--:|');
console.log(`| render 128x128 + 64x64 (median wall / mean CPU) | ${result.render_ms.toFixed(2)} ms / ${result.render_cpu_ms.toFixed(2)} ms |`);
console.log(`| gaze boxes only, no pixels (median) | ${result.gaze_bounds_only_ms.toFixed(2)} ms |`);
console.log(`| kinematic step alone (median) | ${result.physics_step_us.toFixed(1)} us |`);
console.log(`| env.step with rendering (mean wall / CPU) | ${result.env_step_with_render_ms.toFixed(2)} ms / ${result.env_step_with_render_cpu_ms.toFixed(2)} ms = ${result.env_steps_per_s.toFixed(0)} steps/s |`);
console.log(`| dataset generation | ${result.generate_frames_per_s.toFixed(0)} frames/s |`);
console.log(`\nload average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${cpus().length} cores`);
console.log(`Simulation stays under 5% of a training step when the step takes >= ${result.min_training_step_ms_for_5pct.toFixed(1)} ms.`);
const jsonAt = process.argv.indexOf('--json');
if (jsonAt > 0 && process.argv[jsonAt + 1]) writeFileSync(process.argv[jsonAt + 1]!, JSON.stringify(result, null, 2) + '\n');
