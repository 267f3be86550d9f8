import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { barChartPng, lossCurvePng, parseTrainLog, type BarRow } from '../src/plot.ts';

// PLOT_TEST_DIR=/some/dir keeps the pictures there, to look at them.
const keep = process.env.PLOT_TEST_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'reconvla-plot-'));
if (!keep) test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A log as the trainer writes it: four stages, lm/vm null where a stage has no such term, extra fields. */
function syntheticLog(): string {
  const stages = [
    { stage: 'vae', steps: 100, lm: false, vm: false, base: 0.08 },
    { stage: 'vision', steps: 100, lm: true, vm: false, base: 3 },
    { stage: 'pretrain', steps: 150, lm: false, vm: true, base: 0.7 },
    { stage: 'finetune', steps: 400, lm: true, vm: true, base: 5 },
  ];
  const lines: string[] = [];
  let global = 0;
  for (const s of stages) {
    for (let step = 10; step <= s.steps; step += 10) {
      const decay = Math.exp(-step / s.steps * 2) * (1 + 0.1 * Math.sin(step));
      const lm = s.lm ? s.base * decay : null;
      const vm = s.vm ? 0.4 * s.base * decay : null;
      const loss = s.lm || s.vm ? (lm ?? 0) + (vm ?? 0) : s.base * decay;
      lines.push(JSON.stringify({
        stage: s.stage, step, steps: s.steps, globalStep: global + step, loss, lm, vm, retrieval: null,
        lr: 1e-3, gradNorm: 1.2, secondsPerStep: 0.4, someNewField: 'x',
      }));
    }
    global += s.steps;
  }
  return lines.join('\n') + '\n\n';
}

interface Stats { width: number; height: number; colours: number; dark: number; near(rgb: [number, number, number], tol?: number): number }

function pngStats(file: string): Stats {
  const png = PNG.sync.read(readFileSync(file));
  const colours = new Set<number>();
  let dark = 0;
  const d = png.data;
  for (let i = 0; i < d.length; i += 4) {
    colours.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
    // Text is near-black; the axes and grid are grey and the series coloured, so dark pixels are glyphs.
    if (d[i]! < 70 && d[i + 1]! < 70 && d[i + 2]! < 70) dark++;
  }
  return {
    width: png.width, height: png.height, colours: colours.size, dark,
    near([r, g, b], tol = 30) {
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]! - r) + Math.abs(d[i + 1]! - g) + Math.abs(d[i + 2]! - b) < tol) n++;
      return n;
    },
  };
}

test('lossCurvePng: a ~900x500 PNG with the series colours and text, from a synthetic log', async () => {
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  writeFileSync(join(dir, 'log.jsonl'), syntheticLog());
  const out = join(dir, 'out', 'loss.png');
  await lossCurvePng(join(dir, 'log.jsonl'), out, 'Synthetic run'); // creates the folder out/
  const s = pngStats(out);
  assert.ok(s.width >= 800 && s.width <= 1000, `width ${s.width}`);
  assert.ok(s.height >= 420 && s.height <= 580, `height ${s.height}`);
  assert.ok(s.colours >= 50, `only ${s.colours} distinct colours`);
  // Text (the title, the panel headers, the tick labels) was drawn with the bundled font.
  assert.ok(s.dark >= 1500, `only ${s.dark} dark (text) pixels`);
  // Each loss term's line is there in its colour (loss blue, lm orange, vm green).
  for (const c of [[0x1f, 0x4e, 0x9c], [0xe8, 0x73, 0x1a], [0x2a, 0x9d, 0x58]] as [number, number, number][]) {
    assert.ok(s.near(c) >= 200, `too few pixels of colour ${c}`);
  }
});

test('parseTrainLog: stages in order, null terms skipped, a repeated step (resume) keeps the later record', () => {
  const text = [
    '{"stage":"vae","step":1,"globalStep":1,"loss":0.5,"lm":null,"vm":null}',
    '{"note":"not a training record"}',
    '{"stage":"finetune","step":1,"globalStep":2,"loss":2,"lm":1.5,"vm":0.5}',
    '{"stage":"finetune","step":2,"globalStep":3,"loss":1.8,"lm":1.3,"vm":0.5}',
    '{"stage":"finetune","step":2,"globalStep":3,"loss":1.7,"lm":1.2,"vm":0.5}',
  ].join('\n');
  const log = parseTrainLog(text, 'x.jsonl');
  assert.deepEqual(log.stages.map((s) => s.name), ['vae', 'finetune']);
  assert.equal(log.points.filter((p) => p.stage === 'vae').length, 1);
  const last = log.points.filter((p) => p.step === 3 && p.metric === 'loss');
  assert.deepEqual(last.map((p) => p.value), [1.7]);
});

test('lossCurvePng: an empty, missing or malformed log is an error naming the file and line', async () => {
  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  await assert.rejects(lossCurvePng(empty, join(dir, 'e.png')), (e: Error) => e.message.includes(`${empty}:1`) && /empty/.test(e.message));
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"stage":"vae","step":1,"globalStep":1,"loss":1}\n\n{"stage":"vae","step":2,\n');
  await assert.rejects(lossCurvePng(bad, join(dir, 'b.png')), (e: Error) => e.message.startsWith(`${bad}:3: not a JSON line`));
  const noStep = join(dir, 'nostep.jsonl');
  writeFileSync(noStep, '{"stage":"vae","step":1,"globalStep":1,"loss":1}\n{"stage":"vae","loss":1}\n');
  await assert.rejects(lossCurvePng(noStep, join(dir, 'n.png')), (e: Error) => e.message.startsWith(`${noStep}:2: no numeric "globalStep"`));
  const badLoss = join(dir, 'badloss.jsonl');
  writeFileSync(badLoss, '{"stage":"vae","step":1,"globalStep":1,"loss":"high"}\n');
  await assert.rejects(lossCurvePng(badLoss, join(dir, 'l.png')), (e: Error) => e.message.startsWith(`${badLoss}:1: "loss" must be a number`));
  const missing = join(dir, 'missing.jsonl');
  await assert.rejects(lossCurvePng(missing, join(dir, 'm.png')), (e: Error) => e.message.startsWith(`${missing}: cannot read`));
});

test('barChartPng: grouped bars with error bars, ~900x500, coloured bars and text', async () => {
  const rows: BarRow[] = [];
  const groups = ['lift', 'place_in_bowl', 'stack', 'push', 'chains (5 tasks)'];
  const labels = ['seen objects', 'unseen objects', 'paraphrased'];
  groups.forEach((group, g) => labels.forEach((label, l) => {
    const value = 0.9 - 0.12 * g - 0.15 * l;
    rows.push({ group, label, value, lo: Math.max(0, value - 0.1), hi: Math.min(1, value + 0.08) });
  }));
  rows.push({ group: 'extra', label: 'seen objects', value: 0.5 }); // no interval: no error bar
  const out = join(dir, 'bars.png');
  await barChartPng(rows, out, 'Success rate by task', 'success rate (95% CI)');
  const s = pngStats(out);
  assert.ok(s.width >= 800 && s.width <= 1000, `width ${s.width}`);
  assert.ok(s.height >= 420 && s.height <= 580, `height ${s.height}`);
  assert.ok(s.colours >= 30, `only ${s.colours} distinct colours`);
  assert.ok(s.dark >= 1500, `only ${s.dark} dark (text and error bar) pixels`);
  await assert.rejects(barChartPng([], out, 't', 'y'), /no rows/);
  await assert.rejects(barChartPng([{ group: 'a', label: 'b', value: NaN }], out, 't', 'y'), /rows\[0\]\.value/);
});
