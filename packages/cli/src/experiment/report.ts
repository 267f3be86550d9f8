// The experiment's report, made from the runs' result.json files (and the pictures they name)
// alone, so it is re-created without retraining: the paper's Table 2 analog with the spread over
// seeds, paired differences to the baseline with bootstrap intervals, a bar chart, learning
// curves, attention concentration on the gaze box, and the same frames' pictures per variant.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { RgbBytes } from '@reconvla/reconvla';
import { decodePng } from '@reconvla/tabletop';
import { barChartPng, renderSpecPng, type BarRow } from '../plot.ts';
import type { HeldOutEpisode } from './heldout.ts';
import { readRunResult, runFolder, type RunEvalRow, type RunResult } from './run_experiment.ts';
import { mean, pairedBootstrap, std, type PairedDifference } from './stats.ts';

/** The claims of the paper's ablation (Table 2) as (better, worse) pairs of variant names. */
export const PAPER_CLAIMS: readonly [string, string, string][] = [
  ['gaze', 'full', 'gaze reconstruction beats full-frame reconstruction'],
  ['full', 'baseline', 'full-frame reconstruction beats no reconstruction'],
  ['gaze', 'baseline', 'ReconVLA beats the plain VLA'],
  ['gaze', 'gaze-nopretrain', 'reconstruction pretraining helps'],
];

export interface Comparison {
  variant: string;
  reference: string;
  combo: string;
  avgLen: PairedDifference;
  firstTask: PairedDifference;
}

/** One variant's held-out numbers: per seed (mean over the episodes), mean and std over seeds. */
export interface HeldOutSummary {
  seeds: number[];
  exact: number[];
  /** Exact over dx and dy, the two dimensions that need to know where the target is. */
  exactXY: number[];
  mae: number[];
  meanExact: number; stdExact: number; meanExactXY: number; stdExactXY: number; meanMae: number; stdMae: number;
}

/** Paired held-out differences (variant - reference) over the same demonstration episodes. */
export interface HeldOutComparison {
  variant: string;
  reference: string;
  exact: PairedDifference;
  mae: PairedDifference;
}

export interface ReportSummary {
  variants: string[];
  seeds: Record<string, number[]>;
  /** Per variant and combination ("train · seen"): the per-seed avg len and 1..5 success, and their mean and std. */
  table: Record<string, Record<string, { avgLen: number[]; success: number[][]; meanAvgLen: number; stdAvgLen: number; meanSuccess: number[]; stdSuccess: number[] }>>;
  comparisons: Comparison[];
  attention: Record<string, { meanShare: number; stdShare: number; meanArea: number; perSeed: number[] }>;
  /** Variants whose runs all carry the held-out measure. */
  heldout: Record<string, HeldOutSummary>;
  heldoutComparisons: HeldOutComparison[];
}

const xyOf = (e: HeldOutEpisode): number => (e.exactByDim[0]! + e.exactByDim[1]!) / 2;


const comboName = (r: Pick<RunEvalRow, 'paraphrases' | 'objects'>): string => `${r.paraphrases} · ${r.objects}`;
const f2 = (x: number): string => x.toFixed(2);
const pct = (x: number): string => (100 * x).toFixed(1);

/** Every run of the experiment folder, and the variants in the order the experiment named them. */
export function readRuns(dir: string): { runs: RunResult[]; variants: string[]; experiment: Record<string, unknown> | null } {
  const runsDir = path.join(dir, 'runs');
  if (!existsSync(runsDir)) throw new Error(`${dir}: no runs/ folder (run \`reconvla experiment --out ${dir}\` first)`);
  const runs = readdirSync(runsDir).sort()
    .map((d) => path.join(runsDir, d, 'result.json'))
    .filter((f) => existsSync(f))
    .map(readRunResult);
  if (runs.length === 0) throw new Error(`${runsDir}: no finished run (no result.json)`);
  const expFile = path.join(dir, 'experiment.json');
  const experiment = existsSync(expFile) ? JSON.parse(readFileSync(expFile, 'utf8')) as Record<string, unknown> : null;
  const named = (experiment?.variants as { name: string }[] | undefined)?.map((v) => v.name) ?? [];
  const variants = [...named.filter((v) => runs.some((r) => r.variant === v)), ...new Set(runs.map((r) => r.variant).filter((v) => !named.includes(v)))];
  return { runs, variants, experiment };
}

/** The numbers of the report (also what the tests check against the run JSONs). */
export function summarize(runs: RunResult[], variants: string[]): ReportSummary {
  const byVariant = new Map(variants.map((v) => [v, runs.filter((r) => r.variant === v).sort((a, b) => a.seed - b.seed)]));
  const table: ReportSummary['table'] = {};
  const attention: ReportSummary['attention'] = {};
  for (const [v, rs] of byVariant) {
    table[v] = {};
    for (const combo of [...new Set(rs.flatMap((r) => r.eval.map(comboName)))]) {
      const rows = rs.map((r) => r.eval.find((e) => comboName(e) === combo)).filter((e): e is RunEvalRow => e !== undefined);
      const avgLen = rows.map((e) => e.avg_len);
      const success = rows.map((e) => e.success);
      table[v][combo] = {
        avgLen, success, meanAvgLen: mean(avgLen), stdAvgLen: std(avgLen),
        meanSuccess: [0, 1, 2, 3, 4].map((k) => mean(success.map((s) => s[k]!))), stdSuccess: [0, 1, 2, 3, 4].map((k) => std(success.map((s) => s[k]!))),
      };
    }
    const perSeed = rs.filter((r) => r.attention.shares.length > 0).map((r) => mean(r.attention.shares));
    const areas = rs.flatMap((r) => r.attention.areas);
    if (perSeed.length > 0) attention[v] = { meanShare: mean(perSeed), stdShare: std(perSeed), meanArea: areas.length ? mean(areas) : 0, perSeed };
  }
  const heldout: ReportSummary['heldout'] = {};
  for (const [v, rs] of byVariant) {
    if (rs.length === 0 || rs.some((r) => !r.heldout)) continue;
    const eps = rs.map((r) => r.heldout!.episodes);
    // Each episode counts once (as in the paired bootstrap below).
    const exact = eps.map((e) => mean(e.map((x) => x.exact))), exactXY = eps.map((e) => mean(e.map(xyOf))), mae = eps.map((e) => mean(e.map((x) => x.mae)));
    heldout[v] = {
      seeds: rs.map((r) => r.seed), exact, exactXY, mae,
      meanExact: mean(exact), stdExact: std(exact), meanExactXY: mean(exactXY), stdExactXY: std(exactXY), meanMae: mean(mae), stdMae: std(mae),
    };
  }
  const comparisons: Comparison[] = [];
  const heldoutComparisons: HeldOutComparison[] = [];
  const pairs: [string, string][] = [
    ...variants.filter((v) => v !== 'baseline' && byVariant.has('baseline')).map((v): [string, string] => [v, 'baseline']),
    ...PAPER_CLAIMS.filter(([a, b]) => b !== 'baseline' && byVariant.has(a) && byVariant.has(b)).map(([a, b]): [string, string] => [a, b]),
  ];
  for (const [v, ref] of pairs) {
    const a = byVariant.get(v)!, b = byVariant.get(ref)!;
    const seeds = a.map((r) => r.seed).filter((s) => b.some((r) => r.seed === s));
    if (seeds.length === 0) continue;
    if (heldout[v] && heldout[ref]) {
      const episodes = seeds.map((seed) => {
        const x = a.find((r) => r.seed === seed)!.heldout!.episodes, y = b.find((r) => r.seed === seed)!.heldout!.episodes;
        if (x.length !== y.length || x.some((e, i) => e.task !== y[i]!.task || e.frames !== y[i]!.frames)) {
          throw new Error(`${v} and ${ref}, seed ${seed}: held-out measures on different episodes (${x.length} vs ${y.length}); paired runs must share the demonstrations`);
        }
        return { x, y };
      });
      const diffs = (of: (e: HeldOutEpisode) => number): number[][] => episodes.map(({ x, y }) => x.map((e, i) => of(e) - of(y[i]!)));
      heldoutComparisons.push({ variant: v, reference: ref, exact: pairedBootstrap(diffs((e) => e.exact), 4000, 3), mae: pairedBootstrap(diffs((e) => e.mae), 4000, 4) });
    }
    for (const combo of Object.keys(table[v]!)) {
      const lengths = seeds.flatMap((seed) => {
        const x = a.find((r) => r.seed === seed)!.eval.find((e) => comboName(e) === combo);
        const y = b.find((r) => r.seed === seed)!.eval.find((e) => comboName(e) === combo);
        if (!x || !y) return [];
        if (x.lengths.length !== y.lengths.length) throw new Error(`${v} and ${ref}, seed ${seed}, ${combo}: ${x.lengths.length} vs ${y.lengths.length} chains; paired runs must share the chains`);
        return [{ x: x.lengths, y: y.lengths }];
      });
      if (lengths.length === 0) continue;
      const diffs = (of: (len: number) => number): number[][] => lengths.map(({ x, y }) => x.map((l, c) => of(l) - of(y[c]!)));
      comparisons.push({
        variant: v, reference: ref, combo,
        avgLen: pairedBootstrap(diffs((l) => l), 4000, 1),
        firstTask: pairedBootstrap(diffs((l) => (l >= 1 ? 1 : 0)), 4000, 2),
      });
    }
  }
  return { variants, seeds: Object.fromEntries([...byVariant].map(([v, rs]) => [v, rs.map((r) => r.seed)])), table, comparisons, attention, heldout, heldoutComparisons };
}

/** "higher", "lower" or "not distinguishable" from the 95% interval of a paired difference. */
export function verdict(d: PairedDifference): 'higher' | 'lower' | 'not distinguishable' {
  return d.lo > 0 ? 'higher' : d.hi < 0 ? 'lower' : 'not distinguishable';
}

/** The first seed's picture of every variant that has one, side by side (left to right in variant order). */
async function sideBySidePictures(dir: string, runs: RunResult[], variants: string[], which: 'attention' | 'reconstruction', out: string): Promise<string[]> {
  const R = await import('@reconvla/reconvla');
  const shown: string[] = [], images: RgbBytes[] = [];
  for (const v of variants) {
    const run = runs.filter((r) => r.variant === v).sort((a, b) => a.seed - b.seed)[0];
    const rel = run?.pictures[which];
    if (!run || !rel) continue;
    const file = path.join(dir, 'runs', runFolder(run.variant, run.seed), rel);
    if (!existsSync(file)) continue;
    const png = decodePng(readFileSync(file));
    images.push({ width: png.width, height: png.height, data: png.rgb });
    shown.push(`${v} (seed ${run.seed})`);
  }
  if (images.length > 0) writeFileSync(out, R.encodePng(R.sideBySide(images, 12)));
  return shown;
}

function learningCurveSpec(runs: RunResult[], variants: string[]): TopLevelSpec {
  // Mean over seeds at each logged step, per variant and loss.
  const acc = new Map<string, { variant: string; metric: string; step: number; sum: number; n: number }>();
  for (const r of runs) {
    for (const p of r.curve) {
      if (p.stage !== 'finetune' && p.stage !== 'pretrain') continue;
      const key = `${r.variant}\u0000${p.metric}\u0000${p.step}`;
      const e = acc.get(key) ?? { variant: r.variant, metric: p.metric === 'lm' ? 'lm (action tokens)' : 'vm (reconstruction)', step: p.step, sum: 0, n: 0 };
      e.sum += p.value;
      e.n++;
      acc.set(key, e);
    }
  }
  const values = [...acc.values()].map((e) => ({ variant: e.variant, metric: e.metric, step: e.step, loss: e.sum / e.n }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Learning curves (mean over seeds)', subtitle: 'pretraining then fine-tuning; global step' },
    data: { values },
    facet: { column: { field: 'metric', type: 'nominal', title: null } },
    spec: {
      width: 380, height: 280,
      mark: { type: 'line', strokeWidth: 1.5, point: { size: 12 } },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { type: 'log' } },
        color: { field: 'variant', type: 'nominal', sort: variants, title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
    config: { background: 'white', font: 'DejaVu Sans' },
  } as TopLevelSpec;
}

function tableMarkdown(s: ReportSummary, combo: string): string {
  const lines = [
    `| variant | seeds | 1 | 2 | 3 | 4 | 5 | Avg. Len. | Avg. Len. per seed |`,
    '|:--|--:|--:|--:|--:|--:|--:|--:|:--|',
  ];
  for (const v of s.variants) {
    const t = s.table[v]?.[combo];
    if (!t) continue;
    const cells = t.meanSuccess.map((m, k) => `${pct(m)} ± ${pct(t.stdSuccess[k]!)}`);
    lines.push(`| ${v} | ${s.seeds[v]!.join(', ')} | ${cells.join(' | ')} | **${f2(t.meanAvgLen)} ± ${f2(t.stdAvgLen)}** | ${t.avgLen.map(f2).join(', ')} |`);
  }
  return lines.join('\n');
}

const signed = (x: number, digits = 2): string => `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;

function conclusions(s: ReportSummary, combo: string): string[] {
  const out: string[] = [];
  for (const [a, b, claim] of PAPER_CLAIMS) {
    const c = s.comparisons.find((x) => x.variant === a && x.reference === b && x.combo === combo);
    if (!c) continue;
    const never = (x: string): boolean => s.table[x]?.[combo]?.avgLen.every((l) => l === 0) ?? false;
    if (never(a) && never(b)) {
      out.push(`- "${claim}" (${a} vs ${b}) cannot be tested by success here: neither variant completed a single first task in any chain of any seed (both 0).`);
      continue;
    }
    const v = verdict(c.avgLen);
    const word = v === 'higher' ? 'holds here' : v === 'lower' ? 'is contradicted here' : 'is not confirmed here (the interval includes 0)';
    out.push(`- "${claim}" (${a} vs ${b}) ${word}: ${signed(c.avgLen.mean)} average length (95% interval ${signed(c.avgLen.lo)} to ${signed(c.avgLen.hi)}), ${signed(100 * c.firstTask.mean, 1)} points of first-task success (${signed(100 * c.firstTask.lo, 1)} to ${signed(100 * c.firstTask.hi, 1)}).`);
  }
  return out;
}

/** The paper's claims read on the held-out measure: a lower action error on env-D demonstrations counts as better. */
function heldOutConclusions(s: ReportSummary): string[] {
  const out: string[] = [];
  for (const [a, b, claim] of PAPER_CLAIMS) {
    const c = s.heldoutComparisons.find((x) => x.variant === a && x.reference === b);
    if (!c) continue;
    const v = verdict(c.mae);
    const word = v === 'lower' ? `agrees (${a} imitates the expert more closely)` : v === 'higher' ? `disagrees (${a} imitates the expert less closely)` : 'cannot tell them apart (the interval includes 0)';
    out.push(`- "${claim}" (${a} vs ${b}): the held-out measure ${word}: ${signed(c.mae.mean, 4)} mean absolute action error (95% interval ${signed(c.mae.lo, 4)} to ${signed(c.mae.hi, 4)}), ${signed(100 * c.exact.mean, 2)} points of exact action tokens (${signed(100 * c.exact.lo, 2)} to ${signed(100 * c.exact.hi, 2)}).`);
  }
  return out;
}

function heldOutMarkdown(s: ReportSummary, runs: RunResult[], env: string): string[] {
  const variants = s.variants.filter((v) => s.heldout[v]);
  if (variants.length === 0) return [];
  const h0 = runs.find((r) => r.heldout)!.heldout!;
  const md = [
    `## Held-out action accuracy on env ${env} (teacher-forced)`, '',
    `Every run scored on the same ${h0.episodes.length} demonstrations of env ${env} (\`${h0.data}/\`, recorded like the training data): given the true frame, instruction, state and previous tokens, how often the policy's greedy action token is the expert's bin (exact), the same for dx and dy alone (the moves that need to know where the target is), and the mean absolute error of the decoded action values (actions in [-1, 1]). A graded measure beside closed-loop success, which is 0 or 1 per chain. Means over episodes per seed; mean ± std over seeds.`, '',
    '| variant | seeds | exact % | exact dx, dy % | mean abs. error | error per seed |', '|:--|--:|--:|--:|--:|:--|',
  ];
  for (const v of variants) {
    const h = s.heldout[v]!;
    md.push(`| ${v} | ${h.seeds.join(', ')} | ${pct(h.meanExact)} ± ${pct(h.stdExact)} | ${pct(h.meanExactXY)} ± ${pct(h.stdExactXY)} | **${h.meanMae.toFixed(4)} ± ${h.stdMae.toFixed(4)}** | ${h.mae.map((x) => x.toFixed(4)).join(', ')} |`);
  }
  if (s.heldoutComparisons.length) {
    md.push('', 'Paired differences on the very same episodes (two-stage bootstrap: seeds, then episodes; 4,000 resamples):', '',
      '| variant | reference | Δ exact, points (95% CI) | Δ mean abs. error (95% CI) |', '|:--|:--|--:|--:|');
    for (const c of s.heldoutComparisons) {
      md.push(`| ${c.variant} | ${c.reference} | ${signed(100 * c.exact.mean, 2)} (${signed(100 * c.exact.lo, 2)} to ${signed(100 * c.exact.hi, 2)}) | ${signed(c.mae.mean, 4)} (${signed(c.mae.lo, 4)} to ${signed(c.mae.hi, 4)}) |`);
    }
  }
  const commits = [...new Set(runs.flatMap((r) => (r.heldout ? [r.heldout.commit ?? 'unknown'] : [])))];
  md.push('', `Computed at commit(s) ${commits.map((c) => `\`${c}\``).join(', ')}.`, '');
  return md;
}

export interface ReportOptions {
  /** The command that made the experiment, quoted in the report. */
  command?: string;
}

/** Writes DIR/report.md and its PNGs from the run JSONs; returns the numbers. */
export async function writeReport(dir: string, o: ReportOptions = {}): Promise<{ file: string; summary: ReportSummary }> {
  const { runs, variants, experiment } = readRuns(dir);
  const s = summarize(runs, variants);
  const combos = [...new Set(runs.flatMap((r) => r.eval.map(comboName)))];
  const env = runs[0]!.eval[0]?.env ?? 'D';

  const bars: BarRow[] = [];
  for (const combo of combos) {
    for (const v of variants) {
      const t = s.table[v]?.[combo];
      if (t) bars.push({ group: combo, label: v, value: t.meanAvgLen, lo: Math.max(0, t.meanAvgLen - t.stdAvgLen), hi: t.meanAvgLen + t.stdAvgLen });
    }
  }
  await barChartPng(bars, path.join(dir, 'avg_len.png'), `Average chain length on env ${env}`, 'tasks completed in a row (mean ± std over seeds)', { subtitle: 'instruction set · object split' });
  await renderSpecPng(learningCurveSpec(runs, variants), path.join(dir, 'learning_curves.png'));
  const attShown = await sideBySidePictures(dir, runs, variants, 'attention', path.join(dir, 'attention.png'));
  const recShown = await sideBySidePictures(dir, runs, variants, 'reconstruction', path.join(dir, 'reconstruction.png'));

  const wall = runs.reduce((a, r) => a + r.train_s + r.eval_s, 0);
  const commits = [...new Set(runs.map((r) => r.commit ?? 'unknown'))];
  const md: string[] = [
    `# Experiment report: ${path.basename(path.resolve(dir))}`,
    '',
    `Made from ${runs.length} run JSONs (\`runs/*/result.json\`) by \`reconvla experiment --report-only --out ${dir}\`.`,
    o.command ? `Command: \`${o.command}\`.` : '',
    `Preset \`${runs[0]!.preset}\`; commit(s) ${commits.map((c) => `\`${c}\``).join(', ')}; training + evaluation time of the runs ${(wall / 3600).toFixed(2)} h` +
      (experiment?.started ? ` (experiment started ${String(experiment.started)})` : '') + '.',
    `Every run trained on the same demonstrations and was evaluated on the same ${runs[0]!.eval[0]?.chains ?? 0} chains of 5 tasks per row, in env ${env} (never seen in training).`,
    '',
    '## Table 2 analog: tasks completed in a row (%), mean ± std over seeds',
    '',
  ];
  for (const combo of combos) md.push(`### instructions ${combo.replace(' · ', ', objects ')}`, '', tableMarkdown(s, combo), '');
  md.push('![Average length per variant](avg_len.png)', '', '## Paired differences', '',
    'Each variant minus the reference on the very same chains (same seed, same chain): mean, and a 95% interval from a two-stage bootstrap (seeds, then chains within a seed; 4,000 resamples).', '',
    '| variant | reference | instructions · objects | Δ avg. len. (95% CI) | Δ first-task success, points (95% CI) |', '|:--|:--|:--|--:|--:|');
  for (const c of s.comparisons) {
    md.push(`| ${c.variant} | ${c.reference} | ${c.combo} | ${signed(c.avgLen.mean)} (${signed(c.avgLen.lo)} to ${signed(c.avgLen.hi)}) | ${signed(100 * c.firstTask.mean, 1)} (${signed(100 * c.firstTask.lo, 1)} to ${signed(100 * c.firstTask.hi, 1)}) |`);
  }
  md.push('', '## Does the paper\'s ordering hold here?', '');
  // In words for the paper's own setting (training instructions, seen objects); the table above has every row.
  const main = combos.find((c) => c === 'train · seen') ?? combos[0]!;
  const lines = conclusions(s, main);
  if (lines.length) md.push(`With instructions ${main.replace(' · ', ', objects ')} (the other rows are in the table above):`, '', ...lines, '');
  if (s.comparisons.length === 0) md.push('No pair of the paper\'s variants ran with a shared seed: nothing to compare.', '');
  const heldLines = heldOutConclusions(s);
  if (heldLines.length) md.push(`On the held-out measure (env-${env} demonstrations, teacher-forced; section below):`, '', ...heldLines, '');
  md.push(...heldOutMarkdown(s, runs, env));
  md.push('## Attention concentration (the paper\'s Fig. 4 as a number)', '',
    `Share of the text and action tokens' attention over the first camera's patches that falls inside the gaze box, on the same env-${env} frames for every run; uniform attention would give the boxes' area share.`, '',
    '| variant | share inside the gaze box (mean ± std over seeds) | per seed | boxes\' area share |', '|:--|--:|:--|--:|');
  for (const v of variants) {
    const a = s.attention[v];
    if (a) md.push(`| ${v} | ${pct(a.meanShare)}% ± ${pct(a.stdShare)} | ${a.perSeed.map((x) => `${pct(x)}%`).join(', ')} | ${pct(a.meanArea)}% |`);
  }
  md.push('', `![Attention maps](attention.png)`, '', `*Left to right: ${attShown.join(', ')}; each: frame with the gaze box | attention over the patches.*`, '');
  md.push('## Gaze reconstructions', '', recShown.length ? `![Reconstructions](reconstruction.png)\n\n*Left to right: ${recShown.join(', ')}; each row: frame | real gaze crop | VAE round trip | reconstruction from the recon tokens.*` : 'No variant with a reconstructive branch finished.', '');
  md.push('## Learning curves', '', '![Learning curves](learning_curves.png)', '');
  const file = path.join(dir, 'report.md');
  writeFileSync(file, md.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n'));
  return { file, summary: s };
}
