// `scatter sweep` end to end on a tiny CIFAR-10-format data set: jobs side by side, a second stage that waits
// for its stage 1, every finished run collected into results.jsonl and kept as a record; a second sweep over the
// same directory neither retrains nor re-records; a run another process is training is waited for, not
// duplicated; the table's rows, Welch's columns and pending jobs, from the results file or the kept records;
// sweep files that are wrong are named.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { writeCifar10 } from '../helpers/cifar.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

const work = temporaryDir('sweep');
const dataRoot = path.join(work, 'cifar-10-batches-bin');
writeCifar10(dataRoot, { trainPerClass: 16, testPerClass: 4 });
const config = path.join(work, 'tiny.yaml');
writeFileSync(
  config,
  `data: { dataset: cifar10, root: ${dataRoot}, imbalance: { ratio: 4 }, workers: 0 }
train: { epochs: 2, batchSize: 16, evalEvery: 1 }
schedule: { warmupEpochs: 0, milestones: [] }
`,
);
const jobs = path.join(work, 'jobs.json');
writeFileSync(
  jobs,
  JSON.stringify([
    { name: 'crt', config, seed: 0, set: ['decoupled.method=crt', 'train.sampler=class-balanced', 'train.epochs=1'], stage1: 'ce' },
    { name: 'ce', config, seeds: [0, 1] },
    { name: 'la', config, seed: 0, set: ['loss.name=la'] },
  ]),
);
const out = path.join(work, 'sweep');
const results = path.join(out, 'results.jsonl');
const kept = path.join(work, 'kept');

function scatter(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function sweep(extra: string[] = []): { status: number | null; stdout: string; stderr: string } {
  return scatter(['sweep', jobs, '--out', out, '--parallel', '2', '--keep', kept, ...extra]);
}

const records = (): Record<string, unknown>[] =>
  readFileSync(results, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

test('a sweep trains every job, a second stage after its stage 1, and records each finished run', () => {
  const first = sweep();
  assert.equal(first.status, 0, first.stderr);
  const byRun = new Map(records().map((record) => [`${String(record.name)}-seed${String(record.seed)}`, record]));
  assert.deepEqual([...byRun.keys()].sort(), ['ce-seed0', 'ce-seed1', 'crt-seed0', 'la-seed0']);
  for (const record of byRun.values()) {
    assert.equal(record.unfinished, undefined, JSON.stringify(record));
    assert.equal(typeof record.top1, 'number');
  }
  const crtConfig = readFileSync(path.join(out, 'crt-seed0', 'config.yaml'), 'utf8');
  assert.match(
    crtConfig,
    new RegExp(`from: ${path.join(out, 'ce-seed0').replace(/[/\\\\]/g, '.')}`),
    "cRT started from its own seed's ce run",
  );
  assert.match(first.stderr, /sweep: ce seed 0 started \(log: .*ce-seed0\.log\)/);
  assert.ok(existsSync(path.join(out, 'ce-seed0.log')));
  // Each finished run's compact record is kept, without checkpoints, and the table printed from them.
  assert.deepEqual(readdirSync(path.join(kept, 'ce-seed1')).sort(), ['config.yaml', 'environment.jsonl', 'metrics.jsonl', 'summary.json']);
  assert.match(first.stdout, /^\| ce \| 0, 1 \| [\d.]+ ± [\d.]+ \|/m);
});

test('a second sweep over the same directory neither trains nor records the finished runs again; a new results file gets them', () => {
  const before = records().length;
  const second = sweep();
  assert.equal(second.status, 0, second.stderr);
  assert.equal(records().length, before, 'no record added');
  assert.doesNotMatch(second.stderr, /started|resumed/);
  const elsewhere = path.join(work, 'collected.jsonl');
  const third = sweep(['--results', elsewhere]);
  assert.equal(third.status, 0, third.stderr);
  const collected = readFileSync(elsewhere, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(collected.length, 4);
  assert.ok(
    collected.every((record) => record.wallSeconds === 0 && typeof record.top1 === 'number'),
    JSON.stringify(collected),
  );
});

test('a run that another process is training is waited for in its slot, then collected', async () => {
  const adopted = path.join(work, 'adopted-jobs.json');
  writeFileSync(adopted, JSON.stringify([{ name: 'slow', config, seed: 0, set: ['train.epochs=6'] }]));
  const dir = path.join(out, 'slow-seed0');
  const trainer = spawn(process.execPath, [CLI, 'train', '--config', config, '--out', dir, '--set', 'train.epochs=6', '--set', 'seed=0'], {
    stdio: 'ignore',
  });
  while (!existsSync(path.join(dir, 'train.lock'))) await new Promise((resolve) => setTimeout(resolve, 20));
  const result = scatter(['sweep', adopted, '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, new RegExp(`sweep: slow seed 0 is being trained by process ${trainer.pid}: waiting for it`));
  assert.doesNotMatch(result.stderr, /slow seed 0 (started|resumed)/);
  assert.match(result.stderr, new RegExp(`sweep: slow seed 0 done \\(trained by process ${trainer.pid}\\)`));
  const last = records().at(-1)!;
  assert.equal(last.name, 'slow');
  assert.equal(typeof last.top1, 'number');
});

test('the table: rows in the given order and words, Welch against a reference, pending jobs named, a torn line refused', () => {
  const described = path.join(work, 'described.yaml');
  writeFileSync(
    described,
    `against: ce
rows: [{ name: la, what: logit adjustment }, { name: ce, what: cross-entropy }, { name: bsce, what: balanced softmax }]
jobs: [{ name: bsce, config: ${config}, seed: 0 }]
`,
  );
  for (const source of [results, kept]) {
    const table = scatter(['sweep', described, '--table', source]);
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /^\| ce \| cross-entropy \| 0, 1 \|/m, `from ${source}`);
  }
  const result = scatter(['sweep', described, '--table', results]);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines[0], '| run | what | seeds | top-1 | many | medium | few | top-1 per seed | vs ce | t | df | p |');
  assert.match(lines[2]!, /^\| la \| logit adjustment \| 0 \| [\d.]+ \|/);
  assert.match(lines[3]!, /^\| ce \| cross-entropy \| 0, 1 \| [\d.]+ ± [\d.]+ \| .* \| \(reference\) \| \| \| \|$/);
  assert.match(lines[4]!, /^\| bsce \| balanced softmax \| not finished yet \|/);
  assert.equal(lines.at(-1), 'Not finished: bsce (seed 0).');
  // --against takes another reference: la is now the reference, ce is tested against it.
  const againstLa = scatter(['sweep', described, '--table', results, '--against', 'la']).stdout.trim().split('\n');
  assert.equal(againstLa[0], '| run | what | seeds | top-1 | many | medium | few | top-1 per seed | vs la | t | df | p |');
  assert.match(againstLa[2]!, /\| \(reference\) \| \| \| \|$/);
  assert.match(againstLa[3]!, /^\| ce \| cross-entropy \| 0, 1 \| .* \| [+-][\d.]+ \| - \| - \| - \|$/);
  writeFileSync(described, `against: nothing\njobs: [{ name: bsce, config: ${config} }]\n`);
  const refused = scatter(['sweep', described, '--table', results]);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /--against nothing: no finished run of that name/);
  const torn = path.join(work, 'torn.jsonl');
  writeFileSync(torn, `${readFileSync(results, 'utf8')}{"name": "ce", "se`);
  const tornTable = scatter(['sweep', jobs, '--table', torn]);
  assert.notEqual(tornTable.status, 0);
  assert.match(tornTable.stderr, new RegExp(`torn\\.jsonl line ${records().length + 1} is not a JSON record .*: mend or delete that line`));
});

test("scatter report on a sweep's folder reports its runs, seeds averaged", () => {
  const page = path.join(work, 'sweep-report.html');
  const result = scatter(['report', out, '--out', page]);
  assert.equal(result.status, 0, result.stderr);
  const html = readFileSync(page, 'utf8');
  for (const run of ['ce-seed0', 'ce-seed1', 'la-seed0', 'crt-seed0']) assert.ok(html.includes(run), `${run} is on the page`);
  assert.match(html, /±/, 'the two ce seeds are averaged');
});

test('a sweep file that is wrong is named with the job and the problem, before anything runs', () => {
  const bad = path.join(work, 'bad.yaml');
  for (const [text, pattern] of [
    ['jobs: [{ name: a, config: x.yaml, seeds: [0], colour: red }]', /job 1 has unknown key colour/],
    ['jobs: [{ name: a, config: x.yaml }, { name: a, config: y.yaml }]', /a seed 0 is listed twice/],
    [
      'jobs: [{ name: b, config: x.yaml, seed: 1, stage1: a }, { name: a, config: x.yaml, seed: 0 }]',
      /b: its stage1 a has no job with seed 1/,
    ],
    ['jobs: []', /no jobs/],
    ['jobs: [{ name: a }]', /job 1 \(a\): config is required/],
    ['jobs: [{ name: a, config: x.yaml, set: [seed=1] }]\nextra: 1', /unknown key extra/],
  ] as const) {
    writeFileSync(bad, text);
    const result = scatter(['sweep', bad, '--out', path.join(work, 'never')]);
    assert.equal(result.status, 1, text);
    assert.match(result.stderr, new RegExp(`^scatter: .*bad\\.yaml: ${pattern.source}`), text);
    assert.ok(!existsSync(path.join(work, 'never')), text);
  }
});
