// `scatter report` on tiny trained runs: the results table, escaping, what a run lacks said in words, the
// batch-covariance figures, and the CLI's errors. (The browser test opens the page in Chromium.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { blockAverage } from '../../src/report/charts.js';
import { buildReport, escapeHtml } from '../../src/report/report.js';
import { methodOf } from '../../src/report/runs.js';
import { resolveConfig } from '../../src/train/config.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';
import { trainTinyRun, writeBatchCovariance, writeTinyCifar } from '../helpers/runs.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const work = temporaryDir('report');
const ce = await trainTinyRun(path.join(work, 'ce'), writeTinyCifar(work));

/** A copy of the trained run under another name, with summary.json fields replaced. */
function variant(name: string, summary: Record<string, unknown> = {}): string {
  const dir = path.join(work, name);
  cpSync(ce, dir, { recursive: true });
  const file = path.join(dir, 'summary.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), ...summary }));
  return dir;
}

/** The table rows of a page, as cell texts (tags and spacing dropped). */
function rows(page: string): string[][] {
  return [...page.matchAll(/<tr>(.*?)<\/tr>/gs)].map((row) =>
    [...row[1]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gs)].map((cell) =>
      cell[1]!
        .replace(/<[^>]+>/g, '')
        .replace(/\s+/g, ' ')
        .trim(),
    ),
  );
}

test("the results table shows each run's top-1, many, medium and few from summary.json, in percent", async () => {
  const known = variant('known', { top1: 0.4567, many: 0.9, medium: null, few: 0.1234, bestTop1: 0.5, bestEpoch: 1 });
  const table = rows(await buildReport([known, ce]));
  const summary = JSON.parse(readFileSync(path.join(ce, 'summary.json'), 'utf8'));
  assert.deepEqual(
    table.find((row) => row[0] === 'known (ce)'),
    ['known (ce)', '45.67', '90.00', '–', '12.34', '0 / 2 / 8', '50.00 (epoch 1)'],
  );
  assert.deepEqual(table.find((row) => row[0] === 'ce')?.slice(1, 2), [(summary.top1 * 100).toFixed(2)]);
});

test('text from run directories is escaped, in the page and in the figures', async () => {
  const page = await buildReport([variant('<img src=x onerror="alert(1)">&')]);
  assert.ok(!page.includes('<img'), 'the directory name reached the page as markup');
  assert.ok(page.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp; (ce)'));
  assert.equal(escapeHtml(`<a href='x'>&"</a>`), '&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;');
});

test('a run not analysed yet, and a run without batch covariances, are stated in words', async () => {
  const page = await buildReport([ce]);
  assert.match(page, /2 epochs;\s+scatter \d+\.\d+\.\d+( at [0-9a-f]{10}( with local changes)?)?, libtorch \d+\.\d+\.\d+, cpu, 1 threads</);
  const unrecorded = path.join(work, 'unrecorded');
  cpSync(ce, unrecorded, { recursive: true, filter: (source) => !source.endsWith('environment.jsonl') });
  assert.match(await buildReport([unrecorded]), /2 epochs;\s+environment not recorded</);
  assert.match(page, /ce: not analysed yet \(no analysis\.json\); scatter analyze --run .*ce adds its diagnostics/);
  assert.match(page, /No run recorded batch covariances \(batch-covariance\.jsonl\)/);
  assert.ok(!page.includes('<script'));
});

test('an unfinished run (no summary.json) is stated in its table row', async () => {
  const dir = path.join(work, 'still-training');
  cpSync(ce, dir, { recursive: true, filter: (source) => !source.endsWith('summary.json') });
  const row = rows(await buildReport([dir])).find((cells) => cells[0] === 'still-training (ce)');
  assert.deepEqual(row, ['still-training (ce)', 'not finished: no summary.json yet (2 of 2 epochs in metrics.jsonl)']);
});

test('batch covariances are drawn per run and sampler, and runs without them are named', async () => {
  const recorded = variant('recorded');
  writeBatchCovariance(recorded);
  const page = await buildReport([recorded, ce]);
  assert.match(page, /Trace of the batch feature covariance/);
  assert.match(page, /Condition number of the batch feature covariance/);
  assert.match(page, /recorded \(ce\) · b3rs/);
  assert.match(page, /ce: no batch-covariance\.jsonl\./);
});

test('runs that share a directory name are labelled by their paths', async () => {
  const other = path.join(work, 'elsewhere', 'ce');
  mkdirSync(path.dirname(other));
  cpSync(ce, other, { recursive: true });
  const labels = rows(await buildReport([ce, other])).map((row) => row[0]);
  assert.ok(labels.includes(`${ce} (ce)`) && labels.includes(`${other} (ce)`), labels.join(', '));
});

/** A variant whose config.yaml has another seed and, when given, another learning rate (another configuration). */
function seeded(name: string, seed: number, top1: number, lr?: number): string {
  const dir = variant(name, { top1 });
  const file = path.join(dir, 'config.yaml');
  let text = readFileSync(file, 'utf8');
  assert.match(text, /^seed: 1$/m);
  text = text.replace(/^seed: 1$/m, `seed: ${seed}`);
  if (lr !== undefined) {
    assert.match(text, /^ {2}lr: .*$/m);
    text = text.replace(/^ {2}lr: .*$/m, `  lr: ${lr}`);
  }
  writeFileSync(file, text);
  return dir;
}

test("configurations trained on several seeds are averaged, and each compared with the first by Welch's test", async () => {
  const a = [0, 1, 2].map((seed) => seeded(`a-seed${seed}`, seed, [0.01, 0.02, 0.03][seed]!));
  const b = [0, 1, 2].map((seed) => seeded(`b-seed${seed}`, seed, [0.04, 0.05, 0.06][seed]!, 0.5));
  const single = seeded('single-seed0', 0, 0.5, 0.25);
  const page = await buildReport([...a, single, ...b]);
  const table = rows(page.slice(page.indexOf('<h3>Across seeds</h3>')));
  // Welch's test of [4, 5, 6] against [1, 2, 3] (%): t 3.674, 4 degrees of freedom, p 0.0213 (scipy).
  assert.deepEqual(
    table.find((row) => row[0] === 'a (ce)'),
    ['a (ce)', '0, 1, 2', '2.00 ± 1.00', ...table.find((row) => row[0] === 'a (ce)')!.slice(3, 6), '–', '–'],
  );
  assert.deepEqual(
    table.find((row) => row[0] === 'b (ce)')?.filter((_, i) => [0, 1, 2, 6, 7].includes(i)),
    ['b (ce)', '0, 1, 2', '5.00 ± 1.00', '+3.00', '0.021'],
  );
  assert.ok(!table.some((row) => row[0]!.startsWith('single')), 'a configuration with one seed has no row');
  assert.match(await buildReport([ce]), /No configuration here has more than one finished seed: nothing to average\./);
});

test('large correlation matrices are averaged in blocks', () => {
  const matrix = [
    [1, 2, 3, 4],
    [5, 6, 7, 8],
    [9, 10, 11, 12],
    [13, 14, 15, 16],
  ];
  assert.deepEqual(blockAverage(matrix, 2), {
    matrix: [
      [3.5, 5.5],
      [11.5, 13.5],
    ],
    block: 2,
  });
  assert.deepEqual(blockAverage(matrix, 4), { matrix, block: 1 });
  assert.deepEqual(
    blockAverage(
      [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
      2,
    ).matrix,
    [
      [3, 4.5],
      [7.5, 9],
    ],
  );
});

test('scatter report writes the page and prints its path', () => {
  const out = path.join(work, 'pages', 'report.html');
  const result = cli(['report', ce, '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout.trim(), out);
  assert.match(readFileSync(out, 'utf8'), /^<!DOCTYPE html>/);
});

test('scatter report without a run directory is a usage error, and a directory that is not a run is named', () => {
  const usage = cli(['report']);
  assert.equal(usage.status, 2);
  assert.equal(usage.stderr, 'scatter: report: name at least one run directory\n');
  assert.equal(cli(['report', ce, '--bogus']).status, 2);
  const notRun = path.join(work, 'not-a-run');
  mkdirSync(notRun);
  const refused = cli(['report', ce, notRun]);
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, `scatter: ${notRun} is not a run directory: it has no config.yaml\n`);
});

test("a run's method names its recipe where it is not the plain one: optimizer, mixing, pretrained start", () => {
  assert.equal(methodOf(resolveConfig({})), 'ce');
  assert.equal(
    methodOf(
      resolveConfig({
        model: { neck: 'whitening', pretrained: '/weights/resnet50.pth' },
        loss: { name: 'la' },
        optim: { name: 'adamw' },
        train: { mix: { mixupAlpha: 0.8, cutmixAlpha: 1 } },
      }),
    ),
    'whitening + la + adamw + mixup/cutmix + from resnet50.pth',
  );
});
