// Benchmark: the cost of one operator call, where the kernel is negligible (1-element tensors), through
// scatter and through Python PyTorch (bench/op_overhead.py), alternating in one run on the same threads.
// Each scatter case runs inside scopes of 1,000 iterations, as a training step does, so freeing the
// results is counted, as Python's reference counting is. `chain` is x.mul(2).add(y).relu().sum(): per
// chain, four calls. Prints microseconds per call (per chain) and scatter's time over Python's.
// One intra-op thread by default: with more, a tiny conv2d or sum wakes the thread pool, and on a busy
// machine that wait, not the call, is what gets measured.
// Usage: node dist/bench/op-overhead.js [--calls 20000] [--repeats 5] [--rounds 5] [--threads 1]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { torch } from '../src/index.js';
import { microsecondsPerCall } from './call-timing.js';
import { median } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    repeats: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    python: { type: 'string', default: process.env.SCATTER_PYTHON ?? '/usr/bin/python3' },
  },
});
const calls = Number(flags.calls);
const repeats = Number(flags.repeats);
const threads = Number(flags.threads);
torch.setNumThreads(threads);
const SCOPE = 1000;

const x = torch.ones([1]);
const y = torch.ones([1]);
const image = torch.ones([1, 1, 2, 2]);
const kernel = torch.ones([1, 1, 2, 2]);

type Case = 'add' | 'mulScalar' | 'conv2d' | 'chain';
const cases: Record<Case, () => void> = {
  add: () => x.add(y),
  mulScalar: () => x.mul(2.5),
  conv2d: () => torch.conv2d(image, kernel),
  chain: () => x.mul(2).add(y).relu().sum(),
};

function scatterRound(): Record<Case, number[]> {
  const result = {} as Record<Case, number[]>;
  for (const [name, body] of Object.entries(cases) as [Case, () => void][]) {
    microsecondsPerCall(body, calls, SCOPE); // warm-up: the JIT and the operator ids
    result[name] = Array.from({ length: repeats }, () => microsecondsPerCall(body, calls, SCOPE));
  }
  return result;
}

function pythonRound(): Record<Case, number[]> {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'op_overhead.py');
  const result = spawnSync(flags.python!, [script, String(calls), String(repeats), String(threads)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`Python PyTorch run failed:\n${result.stderr}`);
  return (JSON.parse(result.stdout) as { microseconds: Record<Case, number[]> }).microseconds;
}

// Short alternating rounds, so that a shared machine's slow and fast spells fall on both sides.
const scatterTimes: Record<string, number[]> = {};
const pythonTimes: Record<string, number[]> = {};
function record(times: Record<string, number[]>, round: Record<Case, number[]>): void {
  for (const [name, values] of Object.entries(round)) times[name] = [...(times[name] ?? []), ...values];
}
for (let round = 0; round < Number(flags.rounds); round++) {
  record(scatterTimes, scatterRound());
  record(pythonTimes, pythonRound());
}
const rows = Object.keys(cases).map((name) => {
  const scatter = median(scatterTimes[name]!);
  const python = median(pythonTimes[name]!);
  return {
    case: name,
    scatterMicroseconds: Number(scatter.toFixed(3)),
    pytorchMicroseconds: Number(python.toFixed(3)),
    scatterOverPytorch: Number((scatter / python).toFixed(2)),
  };
});
console.log(JSON.stringify({ bench: 'op-overhead', threads, libtorch: torch.version().libtorch, calls, rows }, null, 1));
