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
import { exactDxDy, type HeldOutEpisode } from './heldout.ts';
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

/** Paired held-out differences (variant - reference) over the same demonstration episodes of one group of envs. */
export interface HeldOutComparison {
  group: string;
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
  /**
   * Per group of held-out envs (the evaluation env; the training envs, their episodes pooled),
   * the variants whose runs all carry the held-out measure.
   */
  heldout: Record<string, Record<string, HeldOutSummary>>;
  heldoutComparisons: HeldOutComparison[];
}

/** The held-out groups: "env D" (the evaluation env, the first entry) and the training envs pooled ("envs A, B, C"), each with its envs. */
export function heldOutGroups(runs: readonly RunResult[]): { name: string; envs: string[]; unseen: boolean }[] {
  const h = runs.find((r) => r.heldout?.length)?.heldout;
  if (!h) return [];
  const rest = h.slice(1).map((x) => x.env);
  return [{ name: `env ${h[0]!.env}`, envs: [h[0]!.env], unseen: true }, ...(rest.length ? [{ name: `env${rest.length > 1 ? 's' : ''} ${rest.join(', ')}`, envs: rest, unseen: false }] : [])];
}

/** A run's held-out episodes of a group's envs, in env order; null when the run lacks one of them. */
function groupEpisodes(r: RunResult, envs: readonly string[]): HeldOutEpisode[] | null {
  const parts = envs.map((env) => r.heldout?.find((h) => h.env === env)?.episodes);
  return parts.every((p) => p !== undefined) ? parts.flat() as HeldOutEpisode[] : null;
}

const comboName = (r: Pick<RunEvalRow, 'paraphrases' | 'objects'>): string => `${r.paraphrases} · ${r.objects}`;
const f2 = (x: number): string => x.toFixed(2);
const pct = (x: number): string => (100 * x).toFixed(1);
const pct2 = (x: number): string => (100 * x).toFixed(2); // attention shares are fractions of a percent

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
  const groups = heldOutGroups(runs);
  for (const g of groups) {
    heldout[g.name] = {};
    for (const [v, rs] of byVariant) {
      const eps = rs.map((r) => groupEpisodes(r, g.envs));
      if (rs.length === 0 || eps.some((e) => e === null)) continue;
      // Each episode counts once (as in the paired bootstrap below).
      const of = (f: (e: HeldOutEpisode) => number): number[] => eps.map((e) => mean(e!.map(f)));
      const exact = of((x) => x.exact), exactXY = of(exactDxDy), mae = of((x) => x.mae);
      heldout[g.name]![v] = {
        seeds: rs.map((r) => r.seed), exact, exactXY, mae,
        meanExact: mean(exact), stdExact: std(exact), meanExactXY: mean(exactXY), stdExactXY: std(exactXY), meanMae: mean(mae), stdMae: std(mae),
      };
    }
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
    for (const g of groups) {
      if (!heldout[g.name]![v] || !heldout[g.name]![ref]) continue;
      const episodes = seeds.map((seed) => {
        const x = groupEpisodes(a.find((r) => r.seed === seed)!, g.envs)!, y = groupEpisodes(b.find((r) => r.seed === seed)!, g.envs)!;
        if (x.length !== y.length || x.some((e, i) => e.task !== y[i]!.task || e.frames !== y[i]!.frames)) {
          throw new Error(`${v} and ${ref}, seed ${seed}, ${g.name}: held-out measures on different episodes (${x.length} vs ${y.length}); paired runs must share the demonstrations`);
        }
        return { x, y };
      });
      const diffs = (of: (e: HeldOutEpisode) => number): number[][] => episodes.map(({ x, y }) => x.map((e, i) => of(e) - of(y[i]!)));
      heldoutComparisons.push({ group: g.name, variant: v, reference: ref, exact: pairedBootstrap(diffs((e) => e.exact), 4000, 3), mae: pairedBootstrap(diffs((e) => e.mae), 4000, 4) });
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

/** The paper's claims read on the held-out measure of one group: a lower action error counts as better. */
function heldOutConclusions(s: ReportSummary, group: string): string[] {
  const out: string[] = [];
  for (const [a, b, claim] of PAPER_CLAIMS) {
    const c = s.heldoutComparisons.find((x) => x.group === group && x.variant === a && x.reference === b);
    if (!c) continue;
    const v = verdict(c.mae);
    const word = v === 'lower' ? `agrees (${a} imitates the expert more closely)` : v === 'higher' ? `disagrees (${a} imitates the expert less closely)` : 'cannot tell them apart (the interval includes 0)';
    out.push(`- "${claim}" (${a} vs ${b}): ${word}: ${signed(c.mae.mean, 4)} mean absolute action error (95% interval ${signed(c.mae.lo, 4)} to ${signed(c.mae.hi, 4)}), ${signed(100 * c.exact.mean, 2)} points of exact action tokens (${signed(100 * c.exact.lo, 2)} to ${signed(100 * c.exact.hi, 2)}).`);
  }
  return out;
}

function heldOutMarkdown(s: ReportSummary, runs: RunResult[]): string[] {
  const groups = heldOutGroups(runs).filter((g) => Object.keys(s.heldout[g.name] ?? {}).length > 0);
  if (groups.length === 0) return [];
  const h0 = runs.find((r) => r.heldout?.length)!.heldout!;
  const md = [
    '## Held-out action accuracy (teacher-forced)', '',
    `Every run scored on the same demonstrations, recorded like the training data: ${h0.map((h) => `${h.episodes.length} of env ${h.env} (\`${h.data}/\`)`).join(', ')}; the training envs' episodes are new ones. Given the true frame, instruction, state and previous tokens: how often the policy's greedy action token is the expert's bin (exact), the same for dx and dy alone (the moves that need to know where the target is), and the mean absolute error of the decoded action values (actions in [-1, 1]). A graded measure beside closed-loop success, which is 0 or 1 per chain. Means over episodes per seed; mean ± std over seeds.`, '',
  ];
  for (const g of groups) {
    md.push(`### ${g.name}${g.unseen ? ' (never seen in training)' : ' (the training envs, new episodes)'}`, '',
      '| variant | seeds | exact % | exact dx, dy % | mean abs. error | error per seed |', '|:--|--:|--:|--:|--:|:--|');
    for (const v of s.variants) {
      const h = s.heldout[g.name]![v];
      if (h) md.push(`| ${v} | ${h.seeds.join(', ')} | ${pct(h.meanExact)} ± ${pct(h.stdExact)} | ${pct(h.meanExactXY)} ± ${pct(h.stdExactXY)} | **${h.meanMae.toFixed(4)} ± ${h.stdMae.toFixed(4)}** | ${h.mae.map((x) => x.toFixed(4)).join(', ')} |`);
    }
    const cs = s.heldoutComparisons.filter((c) => c.group === g.name);
    if (cs.length) {
      md.push('', 'Paired differences on the very same episodes (two-stage bootstrap: seeds, then episodes; 4,000 resamples):', '',
        '| variant | reference | Δ exact, points (95% CI) | Δ mean abs. error (95% CI) |', '|:--|:--|--:|--:|');
      for (const c of cs) md.push(`| ${c.variant} | ${c.reference} | ${signed(100 * c.exact.mean, 2)} (${signed(100 * c.exact.lo, 2)} to ${signed(100 * c.exact.hi, 2)}) | ${signed(c.mae.mean, 4)} (${signed(c.mae.lo, 4)} to ${signed(c.mae.hi, 4)}) |`);
    }
    md.push('');
  }
  const commits = [...new Set(runs.flatMap((r) => (r.heldout ?? []).map((h) => h.commit ?? 'unknown')))];
  md.push(`Computed at commit(s) ${commits.map((c) => `\`${c}\``).join(', ')}.`, '');
  return md;
}

export interface ReportOptions {
  /** The command that made the experiment, quoted in the report when experiment.json has none. */
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
    typeof experiment?.command === 'string' ? `Command: \`${experiment.command}\`.` : o.command ? `Command: \`${o.command}\`.` : '',
    `Preset \`${runs[0]!.preset}\`; commit(s) ${commits.map((c) => `\`${c}\``).join(', ')}; training + evaluation time of the runs ${(wall / 3600).toFixed(2)} h` +
      (experiment?.started ? ` (experiment started ${String(experiment.started)}${Array.isArray(experiment.resumed) && experiment.resumed.length ? `, resumed ${experiment.resumed.join(', ')}` : ''})` : '') + '.',
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
  for (const g of heldOutGroups(runs)) {
    const lines = heldOutConclusions(s, g.name);
    if (lines.length) md.push(`On the held-out measure, ${g.name} demonstrations${g.unseen ? '' : ' (training envs, new episodes)'} (teacher-forced; section below):`, '', ...lines, '');
  }
  md.push(...heldOutMarkdown(s, runs));
  md.push('## Attention concentration (the paper\'s Fig. 4 as a number)', '',
    `Share of the text and action tokens' attention over the first camera's patches that falls inside the gaze box, on the same env-${env} frames for every run; uniform attention would give the boxes' area share.`, '',
    '| variant | share inside the gaze box (mean ± std over seeds) | per seed | boxes\' area share |', '|:--|--:|:--|--:|');
  for (const v of variants) {
    const a = s.attention[v];
    if (a) md.push(`| ${v} | ${pct2(a.meanShare)}% ± ${pct2(a.stdShare)} | ${a.perSeed.map((x) => `${pct2(x)}%`).join(', ')} | ${pct2(a.meanArea)}% |`);
  }
  md.push('', `![Attention maps](attention.png)`, '', `*Left to right: ${attShown.join(', ')}; each: frame with the gaze box | attention over the patches.*`, '');
  md.push('## Gaze reconstructions', '', recShown.length ? `![Reconstructions](reconstruction.png)\n\n*Left to right: ${recShown.join(', ')}; each row: frame | real target (the gaze crop; the whole frame for full) | VAE round trip | reconstruction from the recon tokens.*` : 'No variant with a reconstructive branch finished.', '');
  md.push('## Learning curves', '', '![Learning curves](learning_curves.png)', '');
  const file = path.join(dir, 'report.md');
  writeFileSync(file, md.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n'));
  return { file, summary: s };
}
