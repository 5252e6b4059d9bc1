// Benchmark: channel whitening's share of a ResNet-32 training step (batch 128, CIFAR shapes): the same
// steps with the identity neck and with each whitening variant, alternating, and the difference of their
// median step times over the whitened step time.
// Usage: node dist/bench/whitening-share.js [--batch 128] [--steps 6] [--rounds 3] [--device cpu|cuda]
import { parseArgs } from 'node:util';

import { torch } from '../src/index.js';
import { type NeckKind, type NeckOptions, createNeck } from '../src/longtail/index.js';
import { createModel } from '../src/models/index.js';
import { SGD } from '../src/optim/index.js';
import { median } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '3' },
    device: { type: 'string', default: 'cpu' },
  },
});
const batch = Number(flags.batch);
const steps = Number(flags.steps);
const device = flags.device!;

const variants: { name: string; neck: NeckKind; options: NeckOptions }[] = [
  { name: 'identity', neck: 'identity', options: {} },
  { name: 'zca-float64', neck: 'whitening', options: { method: 'zca', decompositionDtype: 'float64' } },
  { name: 'zca-float32', neck: 'whitening', options: { method: 'zca', decompositionDtype: 'float32' } },
  { name: 'newton-schulz-5', neck: 'whitening', options: { method: 'newton-schulz', iterations: 5 } },
];

function stepTimes(variant: (typeof variants)[number]): number[] {
  torch.manualSeed(0);
  const model = createModel('resnet32', { numClasses: 10 });
  model.neck = createNeck(variant.neck, model.featureDim, variant.options);
  model.to(device);
  const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  const x = torch.randn([batch, 3, 32, 32], { device });
  const y = torch.randint(0, 10, [batch], { device });
  const times: number[] = [];
  for (let step = 0; step < steps + 1; step++) {
    const started = performance.now();
    torch.scope(() => {
      const loss = torch.nn.functional.crossEntropy(model.call(x), y);
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
      loss.item(); // waits for the device
    });
    if (step > 0) times.push((performance.now() - started) / 1000);
  }
  x.dispose();
  y.dispose();
  return times;
}

const times = new Map(variants.map((variant) => [variant.name, [] as number[]]));
for (let round = 0; round < Number(flags.rounds); round++) {
  for (const variant of variants) times.get(variant.name)!.push(...stepTimes(variant));
}
const base = median(times.get('identity')!);
const result: Record<string, unknown> = {
  bench: 'whitening-share',
  device,
  batch,
  threads: torch.getNumThreads(),
  identityStepSeconds: Number(base.toFixed(4)),
};
for (const variant of variants.slice(1)) {
  const step = median(times.get(variant.name)!);
  result[variant.name] = { stepSeconds: Number(step.toFixed(4)), share: Number(((step - base) / step).toFixed(4)) };
}
console.log(JSON.stringify(result));
