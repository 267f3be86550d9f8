// `reconvla sim ...`: the built-in tabletop simulator from the command line.
//   sim render    both camera views of a scene, as a PNG
//   sim generate  an expert demonstration dataset (safetensors shards)
//   sim eval      long-horizon evaluation of the expert or a random policy
//   sim chains    the long-horizon split (chains of 5 instructions) as JSON
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import { envArg, envListArg, intArg, numArg, taskListArg } from './args.ts';
import {
  ENVS, RolloutRecorder, Rng, TabletopEnv, chainSplit, encodePng, evaluate, expertPolicy, feasibleTasks,
  generateDataset, hstack, instructionFor, observationPicture, parseEnvList, parseEnvName, perTaskTable, randomPolicy,
  parseTaskKind, resultTable, upscale, type EnvName, type ObjectSplit, type Policy, type TaskKind,
} from '@reconvla/tabletop';






function objectsArg(v: string): ObjectSplit {
  if (v === 'seen' || v === 'unseen' || v === 'all') return v;
  throw new InvalidArgumentError(`objects must be seen, unseen or all, got "${v}".`);
}

function policyArg(v: string): 'expert' | 'random' {
  if (v === 'expert' || v === 'random') return v;
  throw new InvalidArgumentError(`unknown policy "${v}": expected expert or random.`);
}

function writeFile(path: string, data: Buffer | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

interface SceneFlags { distractors: number; confusers: number; objects: ObjectSplit; size: number; gripperSize: number }

function addSceneFlags(cmd: Command, defaultObjects: ObjectSplit): Command {
  return cmd
    .option('--distractors <n>', 'extra objects beyond the four the tasks need (0..6)', intArg('distractors', 0, 6), 2)
    .option('--confusers <n>', 'how many distractors share colour or shape with another object', intArg('confusers', 0, 6), 0)
    .option('--objects <split>', 'colour/shape pairs: seen (training), unseen (held out) or all', objectsArg, defaultObjects)
    .option('--size <px>', 'static camera resolution (square)', intArg('size', 8, 2048), 128)
    .option('--gripper-size <px>', 'gripper camera resolution (square)', intArg('gripper-size', 8, 2048), 64);
}

export function registerSim(program: Command): void {
  const sim = program.command('sim').description('the built-in tabletop manipulation simulator (CALVIN-like)');

  addSceneFlags(
    sim.command('render')
      .description('render a scene from both cameras, side by side, into a PNG')
      .option('--env <name>', 'environment A, B, C or D', envArg, 'D' as EnvName)
      .option('--seed <n>', 'scene seed', intArg('seed', 0), 0)
      .requiredOption('--out <file>', 'PNG to write')
      .option('--scale <k>', 'enlarge the picture k times (nearest neighbour)', intArg('scale', 1, 8), 2)
      .option('--gaze', 'draw the gaze box of an example task'),
    'all',
  ).action((opts: SceneFlags & { env: EnvName; seed: number; out: string; scale: number; gaze?: boolean }) => {
    const env = new TabletopEnv({ env: opts.env, distractors: opts.distractors, confusers: opts.confusers, objects: opts.objects,
      staticWidth: opts.size, staticHeight: opts.size, gripperWidth: opts.gripperSize, gripperHeight: opts.gripperSize });
    let obs = env.reset(opts.seed);
    const rng = new Rng(opts.seed);
    const tasks = feasibleTasks(env.state);
    const spec = tasks.length > 0 ? rng.pick(tasks) : null;
    let instruction = '';
    if (spec) {
      instruction = instructionFor(env.state, spec, rng);
      if (opts.gaze) {
        env.setTask(spec);
        obs = env.observe();
      }
    }
    const picture = opts.gaze ? observationPicture(obs, opts.scale) : (() => {
      const s = upscale(obs.static, opts.scale);
      const g = upscale(obs.gripper, Math.max(1, Math.round((obs.static.height * opts.scale) / obs.gripper.height)));
      return hstack([s, g]);
    })();
    writeFile(opts.out, encodePng(picture));
    console.log(`wrote ${opts.out} (${picture.width}x${picture.height}): env ${opts.env}, seed ${opts.seed}, ${env.state.objects.length} objects`);
    if (spec) console.log(`example instruction: "${instruction}" (task ${spec.kind})`);
  });

  addSceneFlags(
    sim.command('generate')
      .description('write an expert demonstration dataset (safetensors shards + dataset.json)')
      .option('--envs <list>', 'environments to draw episodes from, e.g. A,B,C', envListArg, ['A', 'B', 'C'] as EnvName[])
      .requiredOption('--episodes <n>', 'number of episodes', intArg('episodes', 1))
      .requiredOption('--out <dir>', 'output directory')
      .option('--seed <n>', 'dataset seed (same seed, same bytes)', intArg('seed', 0), 0)
      .option('--noise <std>', 'Gaussian noise on the executed expert actions (DART: the clean action is recorded)', numArg('noise', 0, 1), 0.1)
      .option('--tasks <list>', 'only these task kinds, balanced (e.g. open_drawer,lift), or all', taskListArg, null)
      .option('--random-start', 'start each episode with the gripper at a random pose')
      .option('--random-fixtures', 'put the cabinet and the lamp of each scene at random positions (around all four envs\' layouts) instead of the env\'s')
      .option('--fixtures-from <env>', 'put the cabinet and the lamp where this env has them, in the look of --envs (a look-versus-layout diagnostic)', envArg)
      .option('--relabel <n>', 'also store each demonstration n more times, labelled for another task of its scene (instruction relabelling)', intArg('relabel', 0), 0)
      .option('--shard-frames <n>', 'frames per shard file', intArg('shard-frames', 1), 1024)
      .option('--max-steps <n>', 'step budget per episode', intArg('max-steps', 1), 300),
    'seen',
  ).action((opts: SceneFlags & { envs: EnvName[]; episodes: number; out: string; seed: number; noise: number; tasks: TaskKind[] | null; randomStart?: boolean; randomFixtures?: boolean; fixturesFrom?: EnvName; relabel: number; shardFrames: number; maxSteps: number }) => {
    const bar = new cliProgress.SingleBar({ format: 'generate [{bar}] {value}/{total} episodes | {frames} frames | eta {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic);
    bar.start(opts.episodes, 0, { frames: 0 });
    const t0 = Date.now();
    const index = generateDataset({
      out: opts.out, envs: opts.envs, episodes: opts.episodes, seed: opts.seed, noise: opts.noise, shardFrames: opts.shardFrames,
      ...(opts.tasks ? { tasks: opts.tasks } : {}), randomStart: opts.randomStart === true, randomFixtures: opts.randomFixtures === true, relabel: opts.relabel,
      ...(opts.fixturesFrom ? { fixtures: { cabinet: ENVS[opts.fixturesFrom].cabinet, lamp: ENVS[opts.fixturesFrom].lamp } } : {}),
      maxSteps: opts.maxSteps, distractors: opts.distractors, confusers: opts.confusers, objects: opts.objects,
      staticWidth: opts.size, staticHeight: opts.size, gripperWidth: opts.gripperSize, gripperHeight: opts.gripperSize,
      onEpisode: (done, _total, frames) => bar.update(done, { frames }),
    });
    bar.stop();
    const secs = (Date.now() - t0) / 1000;
    console.log(`wrote ${index.episodes} episodes (${index.demonstrations} demonstrations), ${index.frames} frames in ${index.shards.length} shards to ${opts.out} (${secs.toFixed(1)} s, ${(index.frames / secs).toFixed(0)} frames/s)`);
  });

  addSceneFlags(
    sim.command('chains')
      .description('write the long-horizon split: chains of 5 instructions, each feasible after the ones before')
      .option('--env <name>', 'environment A, B, C or D', envArg, 'D' as EnvName)
      .option('--chains <n>', 'number of chains', intArg('chains', 1), 100)
      .option('--seed <n>', 'chain seed (the one sim eval uses)', intArg('seed', 0), 0)
      .option('--paraphrases <set>', 'instruction set: heldout (evaluation) or train', (v: string) => {
        if (v === 'heldout' || v === 'train') return v;
        throw new InvalidArgumentError(`paraphrases must be heldout or train, got "${v}".`);
      }, 'heldout' as 'heldout' | 'train')
      .requiredOption('--out <file>', 'JSON file to write'),
    'all',
  ).action((opts: SceneFlags & { env: EnvName; chains: number; seed: number; paraphrases: 'heldout' | 'train'; out: string }) => {
    const chains = chainSplit(opts.seed, opts.chains, { env: opts.env, distractors: opts.distractors, confusers: opts.confusers, objects: opts.objects }, opts.paraphrases);
    writeFile(opts.out, JSON.stringify({ env: opts.env, seed: opts.seed, paraphrases: opts.paraphrases, chains }) + '\n');
    console.log(`wrote ${chains.length} chains of ${chains[0]!.tasks.length} tasks to ${opts.out}; first: ${chains[0]!.tasks.map((t) => `"${t.instruction}"`).join(', ')}`);
  });

  addSceneFlags(
    sim.command('eval')
      .description('evaluate a policy on long-horizon chains (5 instructions each), reported like Table 3 of the paper')
      .option('--policy <name>', 'expert or random', policyArg, 'expert' as const)
      .option('--env <name>', 'environment A, B, C or D', envArg, 'D' as EnvName)
      .option('--chains <n>', 'number of chains', intArg('chains', 1), 100)
      .option('--seed <n>', 'chain seed (the same seed gives every policy the same chains)', intArg('seed', 0), 0)
      .option('--max-steps <n>', 'step budget per task', intArg('max-steps', 1), 300)
      .option('--noise <std>', 'action noise for the expert', numArg('noise', 0, 1), 0)
      .option('--json <file>', 'write the result as JSON')
      .option('--video <file>', 'write the first chain as an animated PNG with gaze boxes')
      .option('--no-render', 'skip rendering camera images (the expert and random policies do not look)'),
    'all',
  ).action(async (opts: SceneFlags & { policy: 'expert' | 'random'; env: EnvName; chains: number; seed: number; maxSteps: number; noise: number; json?: string; video?: string; render: boolean }) => {
    const policy: Policy = opts.policy === 'expert' ? expertPolicy({ noise: opts.noise, seed: opts.seed }) : randomPolicy(opts.seed);
    const recorder = opts.video ? new RolloutRecorder(2, 2) : null;
    const bar = new cliProgress.SingleBar({ format: 'eval [{bar}] {value}/{total} chains | eta {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic);
    bar.start(opts.chains, 0);
    const t0 = Date.now();
    const result = await evaluate(policy, {
      env: opts.env, chains: opts.chains, seed: opts.seed, maxStepsPerTask: opts.maxSteps,
      distractors: opts.distractors, confusers: opts.confusers, objects: opts.objects,
      render: opts.render || recorder !== null,
      staticWidth: opts.size, staticHeight: opts.size, gripperWidth: opts.gripperSize, gripperHeight: opts.gripperSize,
      onStep: recorder ? (s) => { if (s.chain === 0) recorder.add(s.observation, s.success); } : undefined,
      onChain: (done) => bar.update(done),
    });
    bar.stop();
    console.log(`\n${opts.policy} policy on env ${opts.env} (layout of ${ENVS[opts.env].name}), ${opts.chains} chains, seed ${opts.seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    console.log(resultTable([{ method: opts.policy, result }]));
    console.log('');
    console.log(perTaskTable(result));
    if (opts.json) {
      writeFile(opts.json, JSON.stringify({ success: result.success, avg_len: result.avg_len, per_task: result.per_task, chains: result.chains, env: result.env, seed: result.seed, policy: opts.policy }, null, 2) + '\n');
      console.log(`\nwrote ${opts.json}`);
    }
    if (recorder && opts.video) {
      writeFile(opts.video, recorder.apng(80));
      console.log(`wrote ${opts.video} (${recorder.frames.length} frames)`);
    }
  });
}
