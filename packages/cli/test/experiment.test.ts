// `reconvla experiment` in miniature (smoke preset: 2 variants x 2 seeds, a few steps): every run
// writes its JSON, the report's numbers are the run JSONs' numbers, a rerun skips finished runs
// and finishes a killed one; plus the statistics and the variant switches on their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/main.ts';
import { readRuns, summarize, verdict } from '../src/experiment/report.ts';
import { readRunResult, runFolder, type RunResult } from '../src/experiment/run_experiment.ts';
import { mean, pairedBootstrap, std } from '../src/experiment/stats.ts';
import { variantListArg, variantNamed } from '../src/experiment/variants.ts';
import type { TrainFlags } from '../src/reconvla_commands.ts';

test('reconvla experiment --preset smoke: 2 variants x 2 seeds, the report from the run JSONs, resume skips finished runs', async () => {
  const out = mkdtempSync(join(tmpdir(), 'reconvla-experiment-'));
  try {
    const argv = ['node', 'reconvla', 'experiment', '--preset', 'smoke', '--variants', 'baseline,gaze', '--seeds', '0,1', '--out', out];
    assert.equal(await main(argv), 0);
    const files = ['baseline', 'gaze'].flatMap((v) => [0, 1].map((s) => join(out, 'runs', runFolder(v, s), 'result.json')));
    const runs = files.map(readRunResult);
    for (const r of runs) {
      assert.deepEqual(r.eval.map((e) => `${e.env} ${e.paraphrases} ${e.objects}`), ['D train seen', 'D train unseen', 'D heldout seen', 'D heldout unseen']);
      for (const e of r.eval) {
        assert.equal(e.lengths.length, e.chains);
        assert.equal(e.avg_len, mean(e.lengths));
      }
      assert.ok(r.curve.some((p) => p.metric === 'lm'), `${r.variant} seed ${r.seed} logged its action loss`);
      assert.equal(r.curve.some((p) => p.metric === 'vm'), r.variant === 'gaze', 'only the reconstructive variant has a vm loss');
      assert.equal(r.pictures.reconstruction === null, r.variant === 'baseline');
      assert.ok(r.attention.shares.every((x) => Number.isFinite(x) && x >= 0 && x <= 1));
      // The evaluation env's demonstrations, then the training envs' (the smoke preset trains on A, B).
      assert.deepEqual(r.heldout!.map((h) => h.env), ['D', 'A', 'B']);
      for (const h of r.heldout!) {
        assert.ok(h.episodes.length > 0, `${r.variant} seed ${r.seed} scored the env-${h.env} demonstrations`);
        for (const e of h.episodes) {
          assert.ok(e.tokens > 0 && e.frames > 0);
          for (const x of [e.exact, e.mae, ...e.exactByDim]) assert.ok(Number.isFinite(x) && x >= 0, `finite, non-negative: ${x}`);
          assert.ok(e.exact <= 1 && e.exactByDim.every((x) => x <= 1));
        }
        assert.equal(h.mae, mean(h.episodes.map((e) => e.mae)));
      }
    }
    // Every run scored the very same episodes.
    assert.deepEqual(new Set(runs.map((r) => JSON.stringify(r.heldout!.map((h) => h.episodes.map((e) => [e.task, e.frames]))))).size, 1);
    // The report's numbers are the JSONs' numbers.
    const { runs: read, variants } = readRuns(out);
    assert.deepEqual(variants, ['baseline', 'gaze']);
    const s = summarize(read, variants);
    for (const v of variants) {
      const mine = runs.filter((r) => r.variant === v).sort((a, b) => a.seed - b.seed);
      const t = s.table[v]!['train · seen']!;
      const lens = mine.map((r) => r.eval[0]!.avg_len);
      assert.deepEqual(t.avgLen, lens);
      assert.equal(t.meanAvgLen, mean(lens));
      assert.equal(t.stdAvgLen, std(lens));
    }
    const c = s.comparisons.find((x) => x.variant === 'gaze' && x.reference === 'baseline' && x.combo === 'train · seen')!;
    const diffs = [0, 1].map((seed) => {
      const g = runs.find((r) => r.variant === 'gaze' && r.seed === seed)!.eval[0]!.lengths;
      const b = runs.find((r) => r.variant === 'baseline' && r.seed === seed)!.eval[0]!.lengths;
      return g.map((l, i) => l - b[i]!);
    });
    assert.equal(c.avgLen.mean, mean(diffs.flat()));
    // Held-out groups: env D alone, the training envs' episodes pooled.
    assert.deepEqual(Object.keys(s.heldout), ['env D', 'envs A, B']);
    const episodesOf = (r: RunResult, envs: string[]) => envs.flatMap((env) => r.heldout!.find((h) => h.env === env)!.episodes);
    for (const v of variants) {
      const mine = runs.filter((r) => r.variant === v).sort((a, b) => a.seed - b.seed);
      assert.deepEqual(s.heldout['env D']![v]!.mae, mine.map((r) => mean(episodesOf(r, ['D']).map((e) => e.mae))));
      assert.deepEqual(s.heldout['env D']![v]!.exactXY, mine.map((r) => mean(episodesOf(r, ['D']).map((e) => (e.exactByDim[0]! + e.exactByDim[1]!) / 2))));
      assert.deepEqual(s.heldout['envs A, B']![v]!.exact, mine.map((r) => mean(episodesOf(r, ['A', 'B']).map((e) => e.exact))));
    }
    const hc = s.heldoutComparisons.find((x) => x.group === 'env D' && x.variant === 'gaze' && x.reference === 'baseline')!;
    const maeDiffs = [0, 1].flatMap((seed) => {
      const g = episodesOf(runs.find((r) => r.variant === 'gaze' && r.seed === seed)!, ['D']);
      const b = episodesOf(runs.find((r) => r.variant === 'baseline' && r.seed === seed)!, ['D']);
      return g.map((e, i) => e.mae - b[i]!.mae);
    });
    assert.equal(hc.mae.mean, mean(maeDiffs));
    assert.ok(hc.mae.lo <= hc.mae.mean && hc.mae.mean <= hc.mae.hi);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    assert.match(report, /\| baseline \| 0, 1 \|/);
    assert.match(report, /## Does the paper's ordering hold here\?/);
    // A few smoke steps complete nothing: the report says success cannot order the variants.
    assert.ok(runs.every((r) => r.eval.every((e) => e.lengths.every((l) => l === 0))));
    assert.match(report, /"ReconVLA beats the plain VLA" \(gaze vs baseline\) cannot be tested by success here/);
    assert.match(report, /## Held-out action accuracy[\s\S]*### env D \(never seen in training\)[\s\S]*### envs A, B \(the training envs, new episodes\)/);
    assert.match(report.split('### envs A, B')[0]!.split('### env D')[1]!, new RegExp(`\\| gaze \\| baseline \\| [^|]+ \\| ${(hc.mae.mean >= 0 ? '\\+' : '-')}${Math.abs(hc.mae.mean).toFixed(4)} `));
    for (const f of ['report.md', 'avg_len.png', 'learning_curves.png', 'attention.png', 'reconstruction.png']) assert.ok(existsSync(join(out, f)), `${f} written`);

    // A killed run (no result.json) is finished on the rerun; the finished ones are skipped untouched.
    const killed = files[3]!;
    rmSync(killed);
    const before = statSync(files[0]!).mtimeMs;
    assert.equal(await main(argv), 0);
    assert.equal(statSync(files[0]!).mtimeMs, before, 'a finished run is not rerun');
    assert.ok(existsSync(killed), 'the unfinished run is finished');
    // A finished run from before the held-out measure gets it from its saved model; the rest of its JSON stays.
    const older = readRunResult(files[1]!);
    const { heldout: had, ...rest } = older;
    writeFileSync(files[1]!, JSON.stringify(rest));
    assert.equal(await main(argv), 0);
    const backfilled = readRunResult(files[1]!);
    assert.deepEqual(backfilled.heldout!.map((h) => h.episodes), had!.map((h) => h.episodes), 'the same numbers from the saved model');
    assert.deepEqual({ ...backfilled, heldout: undefined }, { ...rest, heldout: undefined });
    // Other flags into the same folder (here more fine-tuning steps) are refused before anything
    // is rewritten: the finished runs would otherwise be skipped into another experiment's report.
    const experimentJson = readFileSync(join(out, 'experiment.json'), 'utf8');
    const errors: string[] = [];
    const error = console.error;
    console.error = (...a: unknown[]) => { errors.push(a.join(' ')); };
    try {
      assert.equal(await main([...argv, '--finetune-steps', '5']), 1);
    } finally {
      console.error = error;
    }
    assert.match(errors.join('\n'), /holds finished runs trained with other flags[\s\S]*baseline-seed0[\\/]result\.json: finetuneSteps 3 \(now 5\)/);
    assert.equal(readFileSync(join(out, 'experiment.json'), 'utf8'), experimentJson, 'experiment.json untouched');
    assert.equal(statSync(files[0]!).mtimeMs, before, 'the finished runs untouched');
    // The report alone, from the JSONs.
    rmSync(join(out, 'report.md'));
    assert.equal(await main(['node', 'reconvla', 'experiment', '--report-only', '--out', out]), 0);
    // It quotes the experiment's first command and start (not --report-only's), and the two resumes.
    const again = readFileSync(join(out, 'report.md'), 'utf8');
    const exp = JSON.parse(experimentJson) as { started: string; resumed: string[] };
    assert.equal(exp.resumed.length, 2);
    assert.ok(again.includes(`Command: \`reconvla experiment --preset smoke --variants baseline,gaze --seeds 0,1 --out ${out}\`.`));
    assert.ok(again.includes(`(experiment started ${exp.started}, resumed ${exp.resumed.join(', ')})`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('pairedBootstrap: the mean of the differences, an interval around it, none when every pair is equal', () => {
  const same = pairedBootstrap([[0, 0, 0], [0, 0]], 500, 3);
  assert.deepEqual([same.mean, same.lo, same.hi], [0, 0, 0]);
  const d = pairedBootstrap([[1, 2, 3, 2], [2, 2, 1, 3]], 2000, 0);
  assert.equal(d.mean, 2);
  assert.ok(d.lo > 1 && d.lo <= 2 && d.hi >= 2 && d.hi < 3, `interval ${d.lo}..${d.hi}`);
  assert.equal(verdict(d), 'higher');
  assert.equal(verdict(pairedBootstrap([[-1, 1, 0]], 500, 0)), 'not distinguishable');
  assert.throws(() => pairedBootstrap([[1, Number.NaN]]), /not finite/);
  assert.throws(() => pairedBootstrap([[]]), /at least one paired chain/);
  assert.deepEqual(pairedBootstrap([[1, 0, 2]], 300, 9), pairedBootstrap([[1, 0, 2]], 300, 9), 'deterministic');
});

test('variants: the paper\'s names, switches by train-flag name, clear errors', () => {
  const base = { recon: true, reconTarget: 'gaze', pretrainSteps: 100, views: ['static', 'gripper'], llmLayers: 2 } as unknown as TrainFlags;
  assert.equal(variantNamed('baseline').apply(base).recon, false);
  assert.equal(variantNamed('full').apply(base).reconTarget, 'full');
  assert.equal(variantNamed('gaze-nopretrain').apply(base).pretrainSteps, 0);
  assert.deepEqual(variantNamed('gaze').apply(base), base);
  const custom = variantNamed('views=static+llm-layers=4').apply(base);
  assert.deepEqual([custom.views, custom.llmLayers], [['static'], 4]);
  assert.throws(() => variantNamed('levitate'), /not a known variant or a switch/);
  assert.throws(() => variantNamed('llm-layers=0'), /integer >= 1/);
  assert.throws(() => variantListArg('gaze,gaze'), /names a variant twice/);
});
