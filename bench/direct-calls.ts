// Benchmark: the direct (unboxed) calls of native/src/direct.cc against the boxed call, in one process, the two
// paths alternating round by round (native.setDirectCalls). Cases as bench/op-overhead.ts (1-element tensors,
// scopes of 1,000 calls, 1 intra-op thread), plus the other operators a training step calls most.
// Prints microseconds per call (per chain) by each path and direct's time over boxed's (medians).
// Usage: node dist/bench/direct-calls.js [--calls 20000] [--rounds 5]
import { parseArgs } from 'node:util';

import { torch } from '../src/index.js';
import { native } from '../src/torch/native.js';
import { microsecondsPerCall } from './call-timing.js';
import { median } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
  },
});
const calls = Number(flags.calls);
const SCOPE = 1000;
torch.setNumThreads(1);

const x = torch.ones([1]);
const y = torch.ones([1]);
const image = torch.ones([1, 1, 2, 2]);
const kernel = torch.ones([1, 1, 2, 2]);
const features = torch.ones([2, 3, 2, 2]);
const [mean, variance, weight, bias] = [torch.zeros([3]), torch.ones([3]), torch.ones([3]), torch.zeros([3])];

const cases: Record<string, () => void> = {
  add: () => x.add(y),
  mulScalar: () => x.mul(2.5),
  conv2d: () => torch.conv2d(image, kernel),
  conv2dPadding: () => torch.conv2d(image, kernel, null, { padding: 1 }),
  batchNorm: () => torch.batchNorm(features, mean, variance, { weight, bias, training: true }),
  relu: () => x.relu(),
  addInPlace: () => x.add_(y, 0),
  chain: () => x.mul(2).add(y).relu().sum(),
};

const times: Record<string, { boxed: number[]; direct: number[] }> = {};
try {
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const path of ['boxed', 'direct'] as const) {
      native.setDirectCalls(path === 'direct');
      for (const [name, body] of Object.entries(cases)) {
        microsecondsPerCall(body, calls, SCOPE); // warm-up
        times[name] ??= { boxed: [], direct: [] };
        times[name][path].push(microsecondsPerCall(body, calls, SCOPE));
      }
    }
  }
} finally {
  native.setDirectCalls(true);
}

const rows = Object.entries(times).map(([name, { boxed, direct }]) => ({
  case: name,
  boxedMicroseconds: Number(median(boxed).toFixed(3)),
  directMicroseconds: Number(median(direct).toFixed(3)),
  directOverBoxed: Number((median(direct) / median(boxed)).toFixed(3)),
}));
console.log(JSON.stringify({ bench: 'direct-calls', calls, rounds: Number(flags.rounds), rows }, null, 1));
