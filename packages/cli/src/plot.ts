// Charts as PNG files, headless: a Vega-Lite spec is compiled to Vega, rendered to SVG with
// vega's `renderer: 'none'` view (no canvas, no browser), and rasterized by resvg. Text uses
// DejaVu Sans from the npm package dejavu-fonts-ttf, not the system's fonts, so the pictures
// are the same on every machine that ran `npm ci`.
//   lossCurvePng(RUN/log.jsonl, out.png)   the trainer's losses, one panel per stage
//   barChartPng(rows, out.png, title, y)   grouped bars with error bars (e.g. success rates with 95% intervals)
// As a script: `npx tsx packages/cli/src/plot.ts RUN/log.jsonl out.png [title]`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** The family every chart's text is set in; its files ship in the npm package dejavu-fonts-ttf. */
export const FONT_FAMILY = 'DejaVu Sans';

let fontFilesCache: string[] | null = null;

/** DejaVu Sans (regular and bold) from node_modules/dejavu-fonts-ttf/ttf. */
export function fontFiles(): string[] {
  if (fontFilesCache) return fontFilesCache;
  let dir: string;
  try {
    dir = path.join(path.dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  } catch {
    throw new Error('plot: the font package dejavu-fonts-ttf is not installed (run npm ci at the repository root)');
  }
  const files = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => path.join(dir, f));
  for (const f of files) if (!existsSync(f)) throw new Error(`plot: font file ${f} is missing`);
  fontFilesCache = files;
  return files;
}

// ---------------------------------------------------------------------------------------------
// Text widths. Without a canvas vega guesses a label's width as 0.8 em per character, which
// makes legends, axis titles and `autosize: fit` leave wide gaps. vega lets the width function be
// replaced (vl-convert does the same): this one adds the advance widths from the font's own
// tables (cmap format 4 + hmtx), so the layout matches what resvg draws, kerning aside.

interface FontMetrics { unitsPerEm: number; advance: Map<number, number>; fallback: number }

function readFontMetrics(file: string): FontMetrics {
  const b = readFileSync(file);
  const tables = new Map<string, number>();
  const n = b.readUInt16BE(4);
  for (let i = 0; i < n; i++) tables.set(b.toString('latin1', 12 + 16 * i, 16 + 16 * i), b.readUInt32BE(20 + 16 * i));
  const at = (tag: string): number => {
    const o = tables.get(tag);
    if (o === undefined) throw new Error(`${file}: no ${tag} table`);
    return o;
  };
  const unitsPerEm = b.readUInt16BE(at('head') + 18);
  const numberOfHMetrics = b.readUInt16BE(at('hhea') + 34);
  const hmtx = at('hmtx');
  const glyphAdvance = (g: number) => b.readUInt16BE(hmtx + 4 * Math.min(g, numberOfHMetrics - 1));
  // cmap: the Windows Unicode BMP subtable (platform 3, encoding 1), format 4.
  const cmap = at('cmap');
  let sub = -1;
  for (let i = 0, m = b.readUInt16BE(cmap + 2); i < m; i++) {
    const r = cmap + 4 + 8 * i;
    if (b.readUInt16BE(r) === 3 && b.readUInt16BE(r + 2) === 1) sub = cmap + b.readUInt32BE(r + 4);
  }
  const advance = new Map<number, number>();
  if (sub >= 0 && b.readUInt16BE(sub) === 4) {
    const segX2 = b.readUInt16BE(sub + 6), segs = segX2 / 2;
    const ends = sub + 14, starts = ends + segX2 + 2, deltas = starts + segX2, offsets = deltas + segX2;
    for (let s = 0; s < segs; s++) {
      const end = b.readUInt16BE(ends + 2 * s), start = b.readUInt16BE(starts + 2 * s);
      const delta = b.readInt16BE(deltas + 2 * s), ro = b.readUInt16BE(offsets + 2 * s);
      for (let c = start; c <= Math.min(end, 0x2fff) && c !== 0xffff; c++) {
        let g: number;
        if (ro === 0) g = (c + delta) & 0xffff;
        else {
          g = b.readUInt16BE(offsets + 2 * s + ro + 2 * (c - start));
          if (g !== 0) g = (g + delta) & 0xffff;
        }
        if (g !== 0) advance.set(c, glyphAdvance(g));
      }
    }
  }
  return { unitsPerEm, advance, fallback: advance.get(0x6e) ?? unitsPerEm * 0.6 };
}

let metricsCache: { regular: FontMetrics; bold: FontMetrics } | null = null;

/** Width in pixels of `text` set in DejaVu Sans (bold when asked) at `fontSize` px. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  if (!metricsCache) {
    const [regular, boldFile] = fontFiles();
    metricsCache = { regular: readFontMetrics(regular!), bold: readFontMetrics(boldFile!) };
  }
  const m = bold ? metricsCache.bold : metricsCache.regular;
  let units = 0;
  for (const ch of text) units += m.advance.get(ch.codePointAt(0)!) ?? m.fallback;
  return (units / m.unitsPerEm) * fontSize;
}

interface TextItem { text?: unknown; fontSize?: number; fontWeight?: string | number; limit?: number }

function installTextMetrics(): void {
  const tm = (vega as unknown as { textMetrics: { width: (item: TextItem, text?: unknown) => number } }).textMetrics;
  tm.width = (item, text) => {
    const t = text ?? item.text;
    const s = t == null ? '' : Array.isArray(t) ? t.join(' ') : String(t);
    const w = item.fontWeight;
    return textWidth(s, item.fontSize ?? 11, w === 'bold' || w === 'bolder' || (typeof w === 'number' && w >= 600) || (typeof w === 'string' && Number(w) >= 600));
  };
}

const CONFIG = {
  font: FONT_FAMILY,
  background: 'white',
  padding: 12,
  title: { fontSize: 17, fontWeight: 'bold', anchor: 'start', offset: 10, subtitleFontSize: 12, subtitleColor: '#555' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', titleColor: '#222', labelColor: '#333', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, symbolStrokeWidth: 3 },
  header: { labelFontSize: 13, labelFontWeight: 'bold' },
  view: { stroke: '#cfcfcf' },
} as const;

/** Vega-Lite spec -> SVG text (vega's headless SVG string renderer). */
export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  installTextMetrics();
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG text -> PNG bytes, with the bundled font only (no system fonts). */
export function svgToPng(svg: string, scale = 1): Buffer {
  const resvg = new Resvg(svg, {
    font: { fontFiles: fontFiles(), loadSystemFonts: false, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    background: 'white',
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/** Render a Vega-Lite spec to `outPng` (its folder is created). */
export async function renderSpecPng(spec: TopLevelSpec, outPng: string, scale = 1): Promise<void> {
  await writePng(svgToPng(await specToSvg(spec), scale), outPng);
}

async function writePng(png: Buffer, outPng: string): Promise<void> {
  await mkdir(path.dirname(path.resolve(outPng)), { recursive: true });
  await writeFile(outPng, png);
}

// ---------------------------------------------------------------------------------------------
// Loss curves

/** The per-record losses plotted, in legend order, with their legend labels. */
export const LOSS_METRICS = [
  { key: 'loss', label: 'loss (total)' },
  { key: 'lm', label: 'lm (token cross-entropy)' },
  { key: 'vm', label: 'vm (visual reconstruction)' },
  { key: 'retrieval', label: 'retrieval' },
] as const;

export interface LossPoint {
  stage: string;
  /** Global step (across stages). */
  step: number;
  metric: string;
  value: number;
}

export interface TrainLog {
  /** Stages in order of first appearance. */
  stages: { name: string; steps: number | null; first: number; last: number }[];
  points: LossPoint[];
}

/**
 * Parse the trainer's log.jsonl. Blank lines and JSON objects without a `stage` field are
 * skipped; a line that is not JSON, or a stage record without a numeric globalStep (or step),
 * throws an error naming `file:line`. A log with no stage records throws too. When a resumed run
 * logged a step again, the later record wins.
 */
export function parseTrainLog(text: string, file = 'log.jsonl'): TrainLog {
  const lines = text.split('\n');
  const byKey = new Map<string, LossPoint>();
  const stages = new Map<string, { name: string; steps: number | null; first: number; last: number }>();
  let records = 0;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const where = `${file}:${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not a JSON line (${(e as Error).message}): ${line.slice(0, 80)}`);
    }
    if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new Error(`${where}: expected a JSON object, got ${line.slice(0, 80)}`);
    const r = rec as Record<string, unknown>;
    if (!('stage' in r)) return;
    if (typeof r.stage !== 'string' || !r.stage) throw new Error(`${where}: "stage" must be a non-empty string`);
    const step = typeof r.globalStep === 'number' ? r.globalStep : r.step;
    if (typeof step !== 'number' || !Number.isFinite(step)) throw new Error(`${where}: no numeric "globalStep" (or "step")`);
    records++;
    let s = stages.get(r.stage);
    if (!s) stages.set(r.stage, (s = { name: r.stage, steps: null, first: step, last: step }));
    s.first = Math.min(s.first, step);
    s.last = Math.max(s.last, step);
    if (typeof r.steps === 'number') s.steps = r.steps;
    for (const { key } of LOSS_METRICS) {
      const v = r[key];
      if (v === null || v === undefined) continue;
      if (typeof v !== 'number') throw new Error(`${where}: "${key}" must be a number or null, got ${JSON.stringify(v)}`);
      if (!Number.isFinite(v)) continue; // NaN/Infinity cannot be drawn; JSON.stringify writes them as null anyway
      byKey.set(`${r.stage}\u0000${key}\u0000${step}`, { stage: r.stage, step, metric: key, value: v });
    }
  });
  if (records === 0) {
    const n = lines.filter((l) => l.trim()).length;
    throw new Error(`${file}:${Math.max(1, lines.length - (text.endsWith('\n') ? 1 : 0))}: no training records (${n ? `${n} lines, none with a "stage"` : 'the log is empty'})`);
  }
  const points = [...byKey.values()].sort((a, b) => a.step - b.step);
  if (points.length === 0) throw new Error(`${file}: ${records} training records but no finite loss, lm or vm value`);
  return { stages: [...stages.values()], points };
}

export interface LossCurveOptions {
  /** Log-scale y: 'auto' (the default) when every value is > 0 and some stage spans a factor of 4 or more. */
  logY?: boolean | 'auto';
  /** Approximate picture size in pixels (default 900 x 500). */
  width?: number;
  height?: number;
  /** Subtitle under the title (default: the log's path and its last step). */
  subtitle?: string;
  /** Size of each stage's plot area; default: derived from width and height. */
  panelWidth?: number;
  panelHeight?: number;
}

/** The Vega-Lite spec of lossCurvePng: one panel per stage (own x and y ranges), colour = loss term. */
export function lossCurveSpec(log: TrainLog, title = 'Training loss', options: LossCurveOptions = {}): TopLevelSpec {
  const width = options.width ?? 900, height = options.height ?? 500;
  const metrics = LOSS_METRICS.filter((m) => log.points.some((p) => p.metric === m.key));
  const labelOf = new Map<string, string>(metrics.map((m) => [m.key, m.label]));
  const stages = log.stages.filter((s) => log.points.some((p) => p.stage === s.name));
  const positive = log.points.every((p) => p.value > 0);
  const spread = Math.max(...stages.map((s) => {
    const v = log.points.filter((p) => p.stage === s.name).map((p) => p.value);
    return Math.max(...v) / Math.min(...v);
  }));
  const logY = options.logY === undefined || options.logY === 'auto' ? positive && spread >= 4 : options.logY && positive;
  const cols = Math.min(stages.length, 4), rows = Math.ceil(stages.length / cols);
  // Room for: the y axes (labels ~45 px each, plus the first's title), spacing, title, legend, x axes.
  const panelW = options.panelWidth ?? Math.max(120, Math.floor((width - 2 * CONFIG.padding - 20 - cols * 48 - (cols - 1) * 14) / cols));
  const panelH = options.panelHeight ?? Math.max(120, Math.floor((height - 2 * CONFIG.padding - 60 - 34 - rows * 62 - (rows - 1) * 10) / rows));
  const pointsPerStage = Math.max(...stages.map((s) => log.points.filter((p) => p.stage === s.name && p.metric === 'loss').length));
  const values = log.points.map((p) => ({ ...p, term: labelOf.get(p.metric) ?? p.metric }));
  const lastStep = log.points[log.points.length - 1]!.step;
  const panels = stages.map((s, i) => {
    const header = s.steps ? `${s.name} (${s.steps} steps)` : s.name;
    return {
      title: { text: header, fontSize: 13, anchor: 'middle' as const, offset: 6 },
      width: panelW,
      height: panelH,
      transform: [{ filter: { field: 'stage', equal: s.name } }],
      mark: { type: 'line' as const, interpolate: 'linear' as const, point: pointsPerStage <= 40 ? { size: 22, filled: true } : false },
      encoding: {
        x: {
          field: 'step', type: 'quantitative' as const, title: 'global step',
          scale: { zero: false, nice: false, domain: s.first === s.last ? [s.first - 1, s.last + 1] : [s.first, s.last] },
          axis: { tickCount: Math.max(2, Math.round(panelW / 70)), format: '~s', labelFlush: true },
        },
        y: {
          field: 'value', type: 'quantitative' as const,
          title: i % cols === 0 ? (logY ? 'loss (log scale)' : 'loss') : null,
          scale: logY ? { type: 'log' as const, nice: false, padding: 5 } : { zero: false, nice: true, padding: 5 },
          axis: { tickCount: 6, format: logY ? '~g' : '~r', labelOverlap: 'greedy' as const },
        },
        color: {
          field: 'term', type: 'nominal' as const, title: null,
          sort: metrics.map((m) => m.label),
          scale: { domain: metrics.map((m) => m.label), range: ['#1f4e9c', '#e8731a', '#2a9d58', '#b03aa6'].slice(0, metrics.length) },
          legend: { orient: 'top' as const, direction: 'horizontal' as const, symbolType: 'stroke', symbolSize: 300, labelLimit: 320, columnPadding: 16 },
        },
        // The total is drawn wider, so that it still shows where it equals one term (a stage
        // that trains only lm or only vm).
        strokeWidth: { condition: { test: "datum.metric === 'loss'", value: 4 }, value: 2 },
        order: { field: 'step', type: 'quantitative' as const },
      },
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: title, subtitle: options.subtitle ?? `last global step ${lastStep}${logY ? '; y on a log scale' : ''}` },
    data: { values },
    concat: panels,
    columns: cols,
    spacing: 14,
    resolve: { scale: { x: 'independent', y: 'independent', color: 'shared' } },
    config: CONFIG,
  } as TopLevelSpec;
}

/**
 * Loss curves of a training run as a PNG (about 900 x 500): one panel per stage, in the order the
 * log has them, with loss, lm and vm (and retrieval, when logged) against the global step.
 * Throws, naming the file and line, for a missing, empty or malformed log.
 */
export async function lossCurvePng(logJsonl: string, outPng: string, title?: string, options: LossCurveOptions = {}): Promise<void> {
  let text: string;
  try {
    text = await readFile(logJsonl, 'utf8');
  } catch (e) {
    throw new Error(`${logJsonl}: cannot read the training log (${(e as Error).message})`);
  }
  const log = parseTrainLog(text, logJsonl);
  const opts: LossCurveOptions = { subtitle: `${logJsonl}, last global step ${log.points[log.points.length - 1]!.step}`, ...options };
  const name = title ?? `Training loss: ${path.basename(path.dirname(path.resolve(logJsonl)))}`;
  // Panels are sized from a guess at what the axes and legend take; one measured render corrects it.
  let svg = await specToSvg(lossCurveSpec(log, name, opts));
  const size = svgSize(svg);
  const cols = Math.min(4, new Set(log.points.map((p) => p.stage)).size), rows = Math.ceil(new Set(log.points.map((p) => p.stage)).size / cols);
  const want = { w: options.width ?? 900, h: options.height ?? 500 };
  if (size && (Math.abs(size.w - want.w) > 6 || Math.abs(size.h - want.h) > 6)) {
    const first = lossCurveSpec(log, name, opts) as unknown as { concat: { width: number; height: number }[] };
    svg = await specToSvg(lossCurveSpec(log, name, {
      ...opts,
      panelWidth: Math.max(80, first.concat[0]!.width + Math.round((want.w - size.w) / cols)),
      panelHeight: Math.max(80, first.concat[0]!.height + Math.round((want.h - size.h) / rows)),
    }));
  }
  await writePng(svgToPng(svg), outPng);
}

function svgSize(svg: string): { w: number; h: number } | null {
  const m = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
  return m ? { w: Number(m[1]), h: Number(m[2]) } : null;
}

// ---------------------------------------------------------------------------------------------
// Grouped bars

export interface BarRow {
  /** Position on the x axis (e.g. an environment or a task). */
  group: string;
  /** Bar within the group, and its colour (e.g. a model or a condition). */
  label: string;
  value: number;
  /** Error bar from lo to hi (e.g. a 95% interval); omitted: no error bar. */
  lo?: number;
  hi?: number;
}

export interface BarChartOptions {
  width?: number;
  height?: number;
  /** d3 number format of the value labels and the y axis (default '.2f' when every value is in [0, 1], else '~r'). */
  format?: string;
  /** Fix the y range (default: [0, 1] when every value and bound is in [0, 1], else from 0 to the data). */
  yDomain?: [number, number];
  subtitle?: string;
}

/** The Vega-Lite spec of barChartPng. */
export function barChartSpec(rows: BarRow[], title: string, yTitle: string, options: BarChartOptions = {}): TopLevelSpec {
  if (rows.length === 0) throw new Error('barChartPng: no rows');
  rows.forEach((r, i) => {
    for (const k of ['value', 'lo', 'hi'] as const) {
      const v = r[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw new Error(`barChartPng: rows[${i}].${k} is not a finite number: ${String(v)}`);
    }
  });
  const groups = [...new Set(rows.map((r) => r.group))];
  const labels = [...new Set(rows.map((r) => r.label))];
  const all = rows.flatMap((r) => [r.value, r.lo ?? r.value, r.hi ?? r.value]);
  const unit = all.every((v) => v >= 0 && v <= 1);
  const format = options.format ?? (unit ? '.2f' : '~r');
  const yDomain = options.yDomain ?? (unit ? [0, 1] : undefined);
  const width = options.width ?? 900, height = options.height ?? 500;
  const legendW = labels.length > 1 ? Math.min(220, 40 + Math.max(...labels.map((l) => textWidth(l, 12)))) : 0;
  // Only to decide whether the group names need slanting: vega fits the whole picture (autosize fit).
  const plotW = Math.max(200, width - 2 * CONFIG.padding - 60 - legendW);
  const slanted = Math.max(...groups.map((g) => textWidth(g, 12))) > plotW / groups.length - 10;
  const values = rows.map((r) => ({ ...r, lo: r.lo ?? null, hi: r.hi ?? null }));
  // Bars no wider than ~90 px: with few of them the band padding grows instead.
  const step = plotW / groups.length;
  const paddingInner = Math.min(0.85, Math.max(0.25, 1 - (90 * labels.length * 1.1) / step));
  const x = { field: 'group', type: 'nominal' as const, sort: groups, title: null, scale: { paddingInner, paddingOuter: paddingInner / 2 }, axis: { labelAngle: slanted ? -35 : 0, labelLimit: 160, labelFontSize: 12 } };
  const xOffset = { field: 'label', type: 'nominal' as const, sort: labels };
  const color = {
    field: 'label', type: 'nominal' as const, sort: labels, title: null,
    legend: labels.length > 1 ? { orient: 'right' as const, labelLimit: 200 } : null,
  };
  const y = { field: 'value', type: 'quantitative' as const, title: yTitle, axis: { format, tickCount: 6 }, scale: yDomain ? { domain: yDomain, nice: false } : { zero: true } };
  const bandInner = labels.length > 1 ? 0.08 : 0;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.subtitle ? { text: title, subtitle: options.subtitle } : { text: title },
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    data: { values },
    encoding: { x, xOffset },
    layer: [
      { mark: { type: 'bar', opacity: 0.9 }, encoding: { y, color } },
      {
        transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
        mark: { type: 'rule', color: '#222', strokeWidth: 1.5 },
        encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
      {
        transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }, { fold: ['lo', 'hi'], as: ['end', 'bound'] }],
        mark: { type: 'tick', color: '#222', thickness: 1.5, size: Math.max(6, Math.min(18, plotW / rows.length / 3)) },
        encoding: { y: { field: 'bound', type: 'quantitative' } },
      },
      {
        mark: { type: 'text', dy: -5, baseline: 'bottom', fontSize: 10.5, color: '#222' },
        encoding: {
          y: { field: 'top', type: 'quantitative' },
          text: { field: 'value', type: 'quantitative', format },
        },
        transform: [{ calculate: 'isValid(datum.hi) ? max(datum.hi, datum.value) : datum.value', as: 'top' }],
      },
    ],
    resolve: { scale: { y: 'shared' } },
    config: { ...CONFIG, scale: { offsetBandPaddingInner: bandInner }, axisX: { grid: false, labelColor: '#222' } },
  } as TopLevelSpec;
}

/**
 * Grouped bar chart as a PNG (about 900 x 500): one cluster per `group`, one coloured bar per
 * `label`, each with its value written above it and an error bar from `lo` to `hi` when given.
 * Values within [0, 1] (rates) get a 0..1 axis and two decimals.
 */
export async function barChartPng(rows: BarRow[], outPng: string, title: string, yTitle: string, options: BarChartOptions = {}): Promise<void> {
  await renderSpecPng(barChartSpec(rows, title, yTitle, options), outPng);
}

// `npx tsx packages/cli/src/plot.ts RUN/log.jsonl out.png [title]`
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [log, out, title] = process.argv.slice(2);
  if (!log || !out) {
    console.error('usage: tsx packages/cli/src/plot.ts RUN/log.jsonl out.png [title]');
    process.exit(2);
  }
  lossCurvePng(log, out, title).then(() => console.log(`wrote ${out}`), (e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
