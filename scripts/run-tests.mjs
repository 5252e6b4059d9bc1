#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node's test runner, one file at a time
// (the machine has 2 cores and several tests start processes of their own). Arguments filter files by
// substring: `npm test -- linalg`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const testRoot = path.join('dist', 'test');
const filters = process.argv.slice(2);
const files = readdirSync(testRoot, { recursive: true })
  .map(String)
  .filter((name) => name.endsWith('.test.js'))
  .map((name) => path.join(testRoot, name))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error(`no test files under ${testRoot} match ${filters.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
