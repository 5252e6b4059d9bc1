// `scatter report DIR...`: one self-contained HTML page comparing runs: the top-1 / many / medium / few
// table (and the mean ± spread of configurations run on several seeds), training curves, per-class accuracy
// against class frequency, and, from analysis.json, feature diagnostics, correlation heatmaps and
// singular-value spectra; batch covariances where a run recorded them.
// Figures are inline SVG (charts.ts); the page has no script and loads nothing. What a run lacks is said in
// words where its figure would be.
import { mkdirSync } from 'node:fs';
import path from 'node:path';

import type { TopLevelSpec } from 'vega-lite';

import type { FeatureDiagnostics } from '../analysis/diagnostics.js';
import { formatMeanSpread, welchTest } from '../analysis/seed-statistics.js';
import { shotGroups } from '../data/index.js';
import { writeFileAtomic } from '../util/files.js';
import { type Point, blockAverage, heatmap, lineChart, renderSvg } from './charts.js';
import { BATCH_COVARIANCE_FILE, type Run, loadRuns, seedGroups } from './runs.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ENTITIES[character]!);
}

/** Markup that is safe as it is: what `html` built, and vega's SVG. */
class Markup {
  constructor(readonly text: string) {}
}

type Content = Markup | string | number | null | readonly Content[];

function render(content: Content): string {
  if (content instanceof Markup) return content.text;
  if (Array.isArray(content)) return content.map(render).join('');
  return content === null ? '' : escapeHtml(String(content));
}

/** A template whose interpolated text is escaped (Markup is kept as it is), so no run's text can break the page. */
function html(strings: TemplateStringsArray, ...values: Content[]): Markup {
  return new Markup(strings.reduce((out, part, i) => out + render(values[i - 1]!) + part));
}

/** The largest matrix drawn cell by cell; larger ones are averaged in blocks. */
const MAX_HEATMAP = 64;

function percent(value: number | null): string {
  return value === null ? '–' : (value * 100).toFixed(2);
}

function number(value: number | null): string {
  if (value === null) return '–';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '−∞';
  return Math.abs(value) >= 1e5 ? value.toExponential(2) : String(Number(value.toPrecision(4)));
}

function missing(text: string): Markup {
  return html`<p class="missing">${text}</p>`;
}

async function figure(caption: string, spec: TopLevelSpec): Promise<Markup> {
  return html`<figure><figcaption>${caption}</figcaption>${new Markup(await renderSvg(spec))}</figure>`;
}

function notAnalysed(runs: Run[]): Markup[] {
  return runs
    .filter((run) => run.analysis === null)
    .map((run) => missing(`${run.label}: not analysed yet (no analysis.json); scatter analyze --run ${run.dir} adds its diagnostics.`));
}

/** How the run was trained, from the last process that trained it (environment.jsonl). */
function trainedWith(run: Run): string {
  const last = run.environment.at(-1);
  if (last === undefined) return 'environment not recorded';
  const commit = last.commit === null ? '' : ` at ${last.commit.slice(0, 10)}${last.modified === true ? ' with local changes' : ''}`;
  const processes = run.environment.length > 1 ? ` (the last of ${run.environment.length} processes)` : '';
  const ranks = last.worldSize > 1 ? ` x ${last.worldSize} processes` : '';
  return `scatter ${last.scatter}${commit}, libtorch ${last.libtorch}, ${last.device}, ${last.threads} threads${ranks}${processes}`;
}

function runList(runs: Run[]): Markup {
  return html`<ul>${runs.map(
    (run) => html`<li><b>${run.label}</b>: <code>${run.dir}</code>, ${run.config.data.dataset}
    (imbalance ratio ${run.config.data.imbalance.ratio}), ${run.config.model.name}, ${run.config.train.epochs} epochs;
    ${trainedWith(run)}</li>`,
  )}</ul>`;
}

function resultsTable(runs: Run[]): Markup {
  const rows = runs.map((run) => {
    const summary = run.summary;
    if (summary === null) {
      const epochs = run.metrics.at(-1)?.epoch ?? 0;
      return html`<tr><th>${run.label}</th><td colspan="6" class="missing">not finished: no summary.json yet
        (${epochs} of ${run.config.train.epochs} epochs in metrics.jsonl)</td></tr>`;
    }
    const { manyThreshold: many, fewThreshold: few } = run.config.data;
    const groups = shotGroups(summary.classCounts, { many, few });
    return html`<tr><th>${run.label}</th>${[summary.top1, summary.many, summary.medium, summary.few].map((value) => html`<td>${percent(value)}</td>`)}
      <td>${groups.many.length} / ${groups.medium.length} / ${groups.few.length}</td>
      <td>${percent(summary.bestTop1)} (epoch ${summary.bestEpoch})</td></tr>`;
  });
  return html`<table><thead><tr><th>run</th><th>top-1</th><th>many</th><th>medium</th><th>few</th>
    <th>classes many / medium / few</th><th>best top-1</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="note">Top-1 accuracy (%) on the balanced test split, from summary.json; many / medium / few: the
    mean accuracy over classes with more than data.manyThreshold (default 100), between, and fewer than
    data.fewThreshold (default 20) training images; – where a group has no class.</p>`;
}

/** A seed group's name: its runs' labels with the seed taken out where that makes them one, else the first label and a count. */
function groupLabel(group: Run[]): string {
  const names = new Set(group.map((run) => run.label.replace(/[-_.]?seed[-_]?\d+/i, '')));
  return names.size === 1 ? [...names][0]! : `${group[0]!.label} and ${group.length - 1} more`;
}

function acrossSeeds(runs: Run[]): Markup {
  const groups = seedGroups(runs).filter((group) => group.length >= 2);
  if (groups.length === 0) return missing('No configuration here has more than one finished seed: nothing to average.');
  const percents = (group: Run[], key: 'top1' | 'many' | 'medium' | 'few'): number[] =>
    group
      .map((run) => run.summary![key])
      .filter((value): value is number => value !== null)
      .map((value) => value * 100);
  const cell = (values: number[]) => html`<td>${values.length === 0 ? '–' : formatMeanSpread(values)}</td>`;
  const reference = percents(groups[0]!, 'top1');
  const rows = groups.map((group, i) => {
    const top1 = percents(group, 'top1');
    const test = i === 0 ? null : welchTest(top1, reference);
    return html`<tr><th>${groupLabel(group)}</th><td>${group.map((run) => run.config.seed).join(', ')}</td>
      ${(['top1', 'many', 'medium', 'few'] as const).map((key) => cell(percents(group, key)))}
      <td>${test === null ? '–' : `${test.difference >= 0 ? '+' : ''}${test.difference.toFixed(2)}`}</td>
      <td>${test === null ? '–' : test.p.toFixed(3)}</td></tr>`;
  });
  return html`<table><thead><tr><th>configuration</th><th>seeds</th><th>top-1</th><th>many</th><th>medium</th><th>few</th>
    <th>top-1 − first row's</th><th>Welch's p</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="note">Runs whose configs differ only in the seed (and, for a second stage, in its stage-1 run), with
    two or more finished seeds: mean ± sample standard deviation over the seeds, in %. The last two columns compare
    each configuration's top-1 with the first row's: the difference of the means, and the two-sided p-value of
    Welch's t-test (with 3 seeds a side it has 2 to 4 degrees of freedom, so even a difference of a few times
    the spread can leave p above 0.05).</p>`;
}

function diagnosticsTable(runs: Run[]): Markup {
  const analysed = runs.filter((run) => run.analysis !== null);
  if (analysed.length === 0) return html``;
  const pair = (key: keyof Omit<FeatureDiagnostics, 'singularValues'>, before: FeatureDiagnostics, after: FeatureDiagnostics | null) =>
    html`<td>${number(before[key])}${after === null ? '' : ` → ${number(after[key])}`}</td>`;
  const rows = analysed.map((run) => {
    const {
      features: { beforeNeck, afterNeck },
      classifier,
      checkpoint,
    } = run.analysis!;
    return html`<tr><th>${run.label}</th><td><code>${checkpoint}</code></td>
      ${(['meanAbsCorrelation', 'effectiveRank', 'gaussianEntropy', 'covarianceCondition'] as const).map((key) => pair(key, beforeNeck, afterNeck))}
      <td>${number(classifier.hessianCondition)}</td><td>${number(classifier.gradientCoupling)}</td></tr>`;
  });
  return html`<table><thead><tr><th>run</th><th>checkpoint</th><th>mean |correlation|</th><th>effective rank</th>
    <th>Gaussian entropy (nats)</th><th>covariance condition</th><th>classifier Hessian condition</th>
    <th>gradient coupling</th></tr></thead><tbody>${rows}</tbody></table>
    <p class="note">Test-set features before → after the neck (one value: the model has no neck). Hessian: of the
    mean cross-entropy in a linear classifier's weights (– for other classifiers or above the size limit);
    gradient coupling: mean |cosine| between the classes' weight gradients.</p>`;
}

async function curves(runs: Run[]): Promise<Markup[]> {
  const series = (field: 'trainLoss' | 'top1'): Point[] =>
    runs.flatMap((run) =>
      run.metrics
        .filter((record) => typeof record[field] === 'number')
        .map((record) => ({ x: record.epoch, y: record[field]!, series: run.label })),
    );
  const loss = series('trainLoss');
  const accuracy = series('top1');
  const options = { x: { title: 'epoch', integer: true }, series: 'run' };
  return [
    ...runs.filter((run) => run.metrics.length === 0).map((run) => missing(`${run.label}: no epochs in metrics.jsonl yet.`)),
    html`<div class="figures">${
      loss.length === 0
        ? null
        : await figure('Training loss (mean over the epoch)', lineChart(loss, { ...options, y: { title: 'training loss' } }))
    }
    ${
      accuracy.length === 0
        ? null
        : await figure(
            'Test top-1 accuracy at the evaluated epochs',
            lineChart(accuracy, { ...options, y: { title: 'top-1', percent: true } }),
          )
    }</div>`,
  ];
}

/** Per-class values against the class's training images, log scale, one line per run. */
function perClassChart(points: Point[], title: string, percentages: boolean): TopLevelSpec {
  return lineChart(
    points.filter((point) => point.x > 0),
    {
      x: { title: 'training images of the class', log: true },
      y: { title, percent: percentages },
      series: 'run',
    },
  );
}

async function perClass(runs: Run[]): Promise<Markup[]> {
  const finished = runs.filter((run) => run.summary !== null);
  const accuracy = finished.flatMap((run) =>
    run.summary!.perClass.map((y, c) => ({ x: run.summary!.classCounts[c]!, y, series: run.label })),
  );
  const norms = runs.flatMap((run) =>
    (run.analysis?.classifier.weightNorms ?? []).map((y, c) => ({ x: run.analysis!.classCounts[c]!, y, series: run.label })),
  );
  return [
    ...runs
      .filter((run) => run.summary === null)
      .map((run) => missing(`${run.label}: no per-class accuracy until the run finishes (summary.json).`)),
    html`<div class="figures">${
      finished.length === 0
        ? null
        : await figure('Per-class test accuracy against class frequency', perClassChart(accuracy, 'accuracy', true))
    }
    ${
      norms.length === 0
        ? null
        : await figure(
            'Classifier weight norm of each class against class frequency (analysis.json)',
            perClassChart(norms, 'weight norm', false),
          )
    }</div>`,
  ];
}

async function correlationHeatmap(run: Run, where: string, matrix: number[][], meanAbs: number): Promise<Markup> {
  const { matrix: shown, block } = blockAverage(matrix, MAX_HEATMAP);
  const averaged = block === 1 ? '' : `, averaged in blocks of ${block} x ${block}`;
  return figure(`${run.label}: ${where} (${matrix.length} channels${averaged}; mean |correlation| ${number(meanAbs)})`, heatmap(shown));
}

async function correlations(runs: Run[]): Promise<Markup[]> {
  const rows: Markup[] = [];
  for (const run of runs) {
    if (run.analysis === null) continue;
    const { correlation, features } = run.analysis;
    const before = await correlationHeatmap(run, 'before the neck', correlation.beforeNeck, features.beforeNeck.meanAbsCorrelation);
    const after =
      correlation.afterNeck === null || features.afterNeck === null
        ? missing(`${run.label}: no neck (model.neck identity): the classifier sees the features on the left.`)
        : await correlationHeatmap(
            run,
            `after the neck (${run.config.model.neck})`,
            correlation.afterNeck,
            features.afterNeck.meanAbsCorrelation,
          );
    rows.push(html`<div class="figures">${before}${after}</div>`);
  }
  return [...notAnalysed(runs), ...rows];
}

async function spectra(runs: Run[]): Promise<Markup[]> {
  // Below 1e-12 of the largest, a singular value is rounding noise (a log scale would stretch to show it).
  const normalised = (run: Run, values: number[], style: string): Point[] =>
    values.map((value, i) => ({ x: i + 1, y: value / values[0]!, series: run.label, style })).filter((point) => point.y > 1e-12);
  const points = runs.flatMap((run) => {
    if (run.analysis === null) return [];
    const { beforeNeck, afterNeck } = run.analysis.features;
    return [
      ...normalised(run, beforeNeck.singularValues, 'before the neck'),
      ...(afterNeck === null ? [] : normalised(run, afterNeck.singularValues, 'after the neck')),
    ];
  });
  if (points.length === 0) return notAnalysed(runs);
  return [
    ...notAnalysed(runs),
    await figure(
      'Singular values of the centred test features, divided by the largest (those under 1e-12 left out)',
      lineChart(points, {
        x: { title: 'index', integer: true },
        y: { title: 'singular value / largest', log: true },
        series: 'run',
        style: 'features',
      }),
    ),
  ];
}

async function batchCovariance(runs: Run[]): Promise<Markup[]> {
  const recorded = runs.filter((run) => run.batchCovariance !== null);
  if (recorded.length === 0) return [missing(`No run recorded batch covariances (${BATCH_COVARIANCE_FILE}).`)];
  const points = (value: (record: NonNullable<Run['batchCovariance']>[number]) => number | null): Point[] =>
    recorded.flatMap((run) =>
      run
        .batchCovariance!.map((record) => ({ x: record.step, y: value(record) ?? NaN, series: `${run.label} · ${record.sampler}` }))
        .filter((point) => Number.isFinite(point.y) && point.y > 0),
    );
  const options = { x: { title: 'step', integer: true }, series: 'run · sampler' };
  const trace = points((record) => record.trace);
  const condition = points((record) => record.condition);
  return [
    ...runs.filter((run) => run.batchCovariance === null).map((run) => missing(`${run.label}: no ${BATCH_COVARIANCE_FILE}.`)),
    html`<div class="figures">${
      trace.length === 0
        ? null
        : await figure('Trace of the batch feature covariance', lineChart(trace, { ...options, y: { title: 'trace', log: true } }))
    }
    ${
      condition.length === 0
        ? null
        : await figure(
            'Condition number of the batch feature covariance (infinite ones left out)',
            lineChart(condition, { ...options, y: { title: 'condition number', log: true } }),
          )
    }</div>`,
  ];
}

const STYLE = `body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; } th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, thead th { text-align: left; } thead th { background: #f3f3f3; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
figure { margin: 0.5em 0; } figcaption { font-weight: 600; margin-bottom: 0.3em; max-width: 480px; }
.missing { color: #8a4b00; font-style: italic; } .note { color: #555; font-size: 0.9em; max-width: 900px; }`;

/** The report's page for the run directories (throws, naming it, on a directory that is not a run). */
export async function buildReport(directories: readonly string[]): Promise<string> {
  const runs = loadRuns(directories);
  const page = html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>scatter report: ${runs.map((run) => run.label).join(', ')}</title>
<style>${new Markup(STYLE)}</style></head>
<body>
<h1>scatter report</h1>
${runList(runs)}
<h2>Top-1 accuracy</h2>
${resultsTable(runs)}
<h3>Across seeds</h3>
${acrossSeeds(runs)}
<h2>Training curves</h2>
${await curves(runs)}
<h2>Per-class results against class frequency</h2>
${await perClass(runs)}
<h2>Feature diagnostics</h2>
${diagnosticsTable(runs)}
<h3>Channel correlation of the test features</h3>
${await correlations(runs)}
<h3>Singular-value spectra</h3>
${await spectra(runs)}
<h2>Batch covariance during training</h2>
${await batchCovariance(runs)}
</body></html>
`;
  return page.text;
}

/** Writes the report to `out` and returns its absolute path. */
export async function writeReport(directories: readonly string[], out: string): Promise<string> {
  const page = await buildReport(directories);
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileAtomic(out, page);
  return path.resolve(out);
}
