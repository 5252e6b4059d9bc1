// Benchmark: channel whitening's share of a ResNet-32 training step (batch 128, CIFAR shapes): the same
// steps with the identity neck and with each whitening variant, each through the native node and through
// the TypeScript layer, alternating, and the difference of their median step times over the whitened step
// time (share). The layer is also timed alone, forward + backward on (batch, 64) features in training mode
// (layerMs, median of 40 calls after 5 warm-up calls, each ending in a read that waits for the device), and
// over the whitened step (layerShare): on the CPU the step's noise hides the difference of medians.
// Usage: node dist/bench/whitening-share.js [--batch 128] [--steps 6] [--rounds 3] [--device cpu|cuda]
import { parseArgs } from 'node:util';

import { torch } from '../src/index.js';
import { type NeckKind, type NeckOptions, WHITENING_IMPLEMENTATIONS, createNeck } from '../src/longtail/index.js';
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

const whitenings: { name: string; options: NeckOptions }[] = [
  { name: 'zca-float64', options: { method: 'zca', decompositionDtype: 'float64' } },
  { name: 'zca-float32', options: { method: 'zca', decompositionDtype: 'float32' } },
  { name: 'newton-schulz-5', options: { method: 'newton-schulz', iterations: 5 } },
];
const variants: { name: string; neck: NeckKind; options: NeckOptions }[] = [
  { name: 'identity', neck: 'identity', options: {} },
  ...whitenings.flatMap(({ name, options }) =>
    WHITENING_IMPLEMENTATIONS.map((implementation) => ({
      name: `${name}-${implementation}`,
      neck: 'whitening' as const,
      options: { ...options, implementation },
    })),
  ),
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

/** The neck alone: forward + backward in training mode on (batch, 64) features, in milliseconds. */
function layerTimes(variant: (typeof variants)[number]): number[] {
  torch.manualSeed(0);
  const neck = createNeck(variant.neck, 64, variant.options).to(device);
  const features = torch.randn([batch, 64], { device });
  const call = (): number => {
    const started = performance.now();
    torch.scope(() => {
      const input = features.detach().requiresGrad_(true);
      neck.call(input).square().sum().backward();
      input.grad!.sum().item(); // waits for the device
    });
    return performance.now() - started;
  };
  for (let warmup = 0; warmup < 5; warmup++) call();
  const times = Array.from({ length: 40 }, call);
  features.dispose();
  return times;
}

const times = new Map(variants.map((variant) => [variant.name, [] as number[]]));
const layerMs = new Map(variants.map((variant) => [variant.name, [] as number[]]));
for (let round = 0; round < Number(flags.rounds); round++) {
  for (const variant of variants) {
    times.get(variant.name)!.push(...stepTimes(variant));
    if (variant.neck !== 'identity') layerMs.get(variant.name)!.push(...layerTimes(variant));
  }
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
  const layer = median(layerMs.get(variant.name)!);
  result[variant.name] = {
    stepSeconds: Number(step.toFixed(4)),
    share: Number(((step - base) / step).toFixed(4)),
    layerMs: Number(layer.toFixed(3)),
    layerShare: Number((layer / 1000 / step).toFixed(4)),
  };
}
// How many times faster the native node runs the layer alone than the TypeScript layer.
for (const { name } of whitenings) {
  const native = median(layerMs.get(`${name}-native`)!);
  result[`${name}-layer-speedup`] = Number((median(layerMs.get(`${name}-typescript`)!) / native).toFixed(2));
}
console.log(JSON.stringify(result));
