// The report of two tiny trained runs (one analysed, with a whitening neck and batch covariances; one not)
// opened in headless Chromium (Debian's chromium, driven by playwright-core): no console errors, no request
// beyond the page itself, every figure a drawn SVG; a full-page screenshot is written beside the page.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';

import { analyzeRun } from '../../src/analysis/analyze.js';
import { writeReport } from '../../src/report/report.js';
import { temporaryDir } from '../helpers/python.js';
import { trainTinyRun, writeBatchCovariance, writeTinyCifar } from '../helpers/runs.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM)
  ? null
  : `${CHROMIUM} is missing: apt-get install chromium (node scripts/setup.mjs --for-tests installs it as root)`;
// As root, npm test's setup installs chromium, so a missing one fails there (CI); elsewhere the test skips.
const skip = missing !== null && process.getuid?.() !== 0 ? missing : false;

test('the report opens in Chromium without errors and every figure is a drawn SVG', { skip }, async (t) => {
  assert.equal(missing, null, missing ?? '');
  const work = temporaryDir('report-browser');
  const data = writeTinyCifar(work);
  const whitened = await trainTinyRun(path.join(work, 'whiten-la'), data, { model: { neck: 'whitening' }, loss: { name: 'la' } });
  const plain = await trainTinyRun(path.join(work, 'ce'), data);
  await analyzeRun(whitened);
  writeBatchCovariance(whitened);
  const file = await writeReport([plain, whitened], path.join(work, 'report.html'));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    const figures = await page.$$eval('figure', (nodes) =>
      nodes.map((figure) => {
        const svg = figure.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        // Vega draws the data in groups of role "mark" (axes and legends have roles of their own).
        const marks = svg === null ? [] : [...svg.querySelectorAll<SVGGraphicsElement>('g.role-mark')].map((group) => group.getBBox());
        return {
          caption: figure.querySelector('figcaption')?.textContent ?? '',
          size: [Number(svg?.getAttribute('width')), Number(svg?.getAttribute('height'))],
          shown: [box?.width ?? 0, box?.height ?? 0],
          marks: marks.filter((mark) => mark.width > 0 || mark.height > 0).length,
          elements: svg?.querySelectorAll('g.role-mark > *').length ?? 0,
        };
      }),
    );
    const captions = figures.map((figure) => figure.caption);
    for (const expected of [
      /Training loss/,
      /Test top-1/,
      /Per-class test accuracy/,
      /weight norm/,
      /whiten-la \(whitening \+ la\): before the neck/,
      /after the neck \(whitening\)/,
      /Singular values/,
      /Trace of the batch/,
      /Condition number of the batch/,
    ]) {
      assert.ok(
        captions.some((caption) => expected.test(caption)),
        `no figure ${expected}: ${captions.join(' | ')}`,
      );
    }
    for (const figure of figures) {
      assert.ok(
        figure.size.every((n) => n > 0) && figure.shown.every((n) => n > 0),
        `${figure.caption}: empty SVG ${JSON.stringify(figure)}`,
      );
      assert.ok(figure.marks > 0 && figure.elements > 0, `${figure.caption}: no marks drawn`);
    }
    const text = await page.textContent('body');
    assert.match(text ?? '', /ce: not analysed yet/);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [pathToFileURL(file).href], 'the page loaded something besides itself');

    const screenshot = path.join(work, 'report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.ok(statSync(screenshot).size > 10_000);
    t.diagnostic(`report ${file}, screenshot ${screenshot}`);
  } finally {
    await browser.close();
  }
});
