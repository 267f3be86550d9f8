// examples/browser in Debian's headless Chromium: the page, served on 127.0.0.1, must find a
// WebGPU adapter, compute a few ops as the CPU backend does, load a tiny ReconVLA folder and run
// policy steps in the tabletop; its first action must be the one the CPU backend predicts in
// Node for the same scene. Without a folder it trains a fresh model in the page, and the action
// loss must fall. Screenshots go to out/browser-page*.png. Under CI=true Chromium must be there
// (scripts/setup.sh installs it); elsewhere the tests skip without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCpuBackend } from '@reconvla/core';
import { loadPretrained, predictActions, Processor } from '@reconvla/reconvla';
import { observationViews } from '@reconvla/reconvla/sim';
import { instructionFor, Rng, sampleTask, TabletopEnv } from '@reconvla/tabletop';
import { freshModelFolder, servePage } from '../examples/browser/serve.ts';
import { Chromium, CHROMIUM } from './helpers/chromium.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STEPS = 3, SEED = 1;

interface PageReport {
  stage: string; error: string | null;
  adapter: Record<string, string> | null;
  parity: { op: string; maxAbsDiff: number; tolerance: number; ok: boolean }[];
  model: { tensors: number; freshlyInitialised: string[]; unexpected: string[] } | null;
  training: { step: number; loss: number; lm: number; vm: number }[];
  instruction: string | null;
  steps: { step: number; action: number[]; ms: number; success: boolean }[];
  attention: { imageShare: number; gazeShare: number | null } | null;
}

function haveChromium(t: { skip: (why: string) => void }): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') assert.fail(`${CHROMIUM} is missing: scripts/setup.sh installs it under CI=true`);
  t.skip(`${CHROMIUM} not installed (apt-get install chromium, or run with CI=true)`);
  return false;
}

/** Opens the page, waits until it reports done or an error, saves a screenshot, returns its report. */
async function runPage(browser: Chromium, url: string, screenshot: string): Promise<PageReport> {
  const session = await browser.newPage(url);
  let report: PageReport | null = null;
  // Polls until the page says it is done; the test runner's timeout bounds a hung page.
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    report = await browser.evaluate<PageReport | null>(session, 'window.reconvla ? JSON.parse(JSON.stringify(window.reconvla)) : null');
    if (report && (report.stage === 'done' || report.stage === 'error')) break;
  }
  fs.mkdirSync(path.join(repoRoot, 'out'), { recursive: true });
  await browser.screenshot(session, path.join(repoRoot, 'out', screenshot));
  return report;
}

test('the browser page runs ReconVLA on the browser\'s WebGPU', async (t) => {
  if (!haveChromium(t)) return;
  const modelDir = await freshModelFolder();
  const page = await servePage(modelDir);
  const browser = Chromium.launch();
  try {
    const report = await runPage(browser, `${page.url}?steps=${STEPS}&seed=${SEED}`, 'browser-page.png');
    assert.equal(report.error, null);
    assert.equal(report.stage, 'done');

    // An adapter, named.
    assert.ok(report.adapter && (report.adapter.vendor !== '?' || report.adapter.architecture !== '?'), JSON.stringify(report.adapter));
    // Parity with the CPU backend, op by op.
    assert.deepEqual(report.parity.map((r) => r.op), ['matmul', 'softmax', 'layerNorm', 'conv2d', 'gelu(tanh)', 'attention', 'sum']);
    for (const r of report.parity) assert.ok(Number.isFinite(r.maxAbsDiff) && r.maxAbsDiff <= r.tolerance, `${r.op}: max |webgpu - cpu| ${r.maxAbsDiff} > ${r.tolerance}`);

    // The folder, whole, and the policy's steps.
    const cpu = createCpuBackend();
    const model = loadPretrained(modelDir, { backend: cpu });
    assert.deepEqual(report.model, { ...report.model, tensors: model.stateDict().size, freshlyInitialised: [], unexpected: [] });
    assert.equal(report.steps.length, STEPS);
    for (const s of report.steps) assert.ok(s.action.length === 7 && s.action.every((v) => Number.isFinite(v) && Math.abs(v) <= 1), JSON.stringify(s));
    assert.ok(report.attention && report.attention.imageShare > 0 && report.attention.imageShare <= 1, JSON.stringify(report.attention));

    // The same scene and instruction in Node on the CPU backend predict the page's first action.
    const env = new TabletopEnv({ env: 'A', distractors: 1 });
    const rng = new Rng(SEED);
    env.reset(SEED);
    env.setTask(sampleTask(env.state, rng, undefined)!);
    const obs = env.observe();
    const instruction = instructionFor(env.state, env.task!.spec, rng);
    assert.equal(report.instruction, instruction);
    const want = await predictActions(model, new Processor(model.config), { images: observationViews(obs, model.config.views), instruction, state: obs.proprio });
    const first = Array.from(want.actions.slice(0, 7), (v) => Math.round(v * 1000) / 1000);
    assert.deepEqual(report.steps[0]!.action, first);
    model.dispose();
  } finally {
    await browser.close();
    await page.close();
    fs.rmSync(modelDir, { recursive: true, force: true });
  }
});

test('without a model folder the page trains a fresh ReconVLA on WebGPU, and the action loss falls', async (t) => {
  if (!haveChromium(t)) return;
  const page = await servePage(null);
  const browser = Chromium.launch();
  try {
    const report = await runPage(browser, `${page.url}?train=4&steps=1&seed=${SEED}`, 'browser-page-train.png');
    assert.equal(report.error, null);
    assert.equal(report.stage, 'done');
    assert.equal(report.model, null);
    assert.equal(report.training.length, 4);
    for (const r of report.training) assert.ok([r.loss, r.lm, r.vm].every(Number.isFinite) && Math.abs(r.loss - r.lm - r.vm) < 1e-4, JSON.stringify(r));
    // From scratch the action loss starts near log(vocabulary) and falls within a few steps.
    const first = report.training[0]!, last = report.training[report.training.length - 1]!;
    assert.ok(first.lm > 4 && first.lm < 8, `first action loss ${first.lm}`);
    assert.ok(last.lm < first.lm - 0.2, `action loss ${first.lm} -> ${last.lm}`);
    assert.equal(report.steps.length, 1);
  } finally {
    await browser.close();
    await page.close();
  }
});
