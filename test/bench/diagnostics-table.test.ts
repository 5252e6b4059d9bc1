// diagnostics-table on analysis.json files the test writes: which features each row shows, the formatting of
// large, infinite and missing values, and the error for a run not analysed yet.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { analysisJson } from '../../src/analysis/analyze.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';

const TABLE = path.join(repoRoot, 'dist', 'bench', 'diagnostics-table.js');
const work = temporaryDir('diagnostics-table');

function analysed(name: string, afterNeck: object | null, classifier: object): string {
  const dir = path.join(work, name);
  mkdirSync(dir);
  const beforeNeck = { meanAbsCorrelation: 0.4321, effectiveRank: 30.04, gaussianEntropy: -Infinity, covarianceCondition: Infinity };
  writeFileSync(
    path.join(dir, 'analysis.json'),
    analysisJson({ checkpoint: `${dir}/checkpoints/last.safetensors`, top1: 0.71234, features: { beforeNeck, afterNeck }, classifier }),
  );
  return dir;
}

const whitened = analysed(
  'whitened',
  { meanAbsCorrelation: 0.1, effectiveRank: 55.44, gaussianEntropy: 42.61, covarianceCondition: 45.92 },
  { hessianCondition: 12345.6, gradientCoupling: 0.3 },
);
const plain = analysed('plain', null, { hessianCondition: null, gradientCoupling: 0.54 });

function table(...args: string[]): { status: number | null; lines: string[]; stderr: string } {
  const result = spawnSync(process.execPath, [TABLE, ...args], { encoding: 'utf8' });
  return { status: result.status, lines: result.stdout.trim().split('\n'), stderr: result.stderr };
}

test("each row shows the classifier's input: the neck's output, or the pooled features without a neck", () => {
  const { status, lines, stderr } = table(whitened, plain);
  assert.equal(status, 0, stderr);
  assert.equal(lines[2], '| whitened | last | 71.23 | after the neck | 0.100 | 55.4 | 42.6 | 45.9 | 12,346 | 0.30 |');
  assert.equal(lines[3], '| plain | last | 71.23 | pooled | 0.432 | 30.0 | -infinite | infinite | - | 0.54 |');
});

test('--before-neck shows the pooled features of every run; a run without analysis.json is named', () => {
  assert.equal(
    table('--before-neck', whitened).lines[2],
    '| whitened | last | 71.23 | pooled | 0.432 | 30.0 | -infinite | infinite | 12,346 | 0.30 |',
  );
  const missing = path.join(work, 'not-analysed');
  mkdirSync(missing);
  const refused = table(missing);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /not-analysed has no analysis\.json: run scatter analyze --run .*not-analysed first/);
});
