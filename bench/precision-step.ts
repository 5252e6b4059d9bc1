// Benchmark: a ResNet-32 training step (CIFAR shapes, batch 128) in float32 against bfloat16 autocast,
// each with contiguous (NCHW) and channels-last (NHWC) weights and inputs, as `scatter train` runs them
// (train.precision, train.channelsLast: autocast over the backbone, the head in float32), alternating
// in rounds on the same threads. Prints each variant's median step time and its speed relative to float32.
// Usage: node dist/bench/precision-step.js [--batch 128] [--steps 5] [--rounds 4] [--device cpu|cuda] [--model resnet32]
import { parseArgs } from 'node:util';

import { createModel } from '../src/models/index.js';
import { torch } from '../src/index.js';
import { SGD } from '../src/optim/index.js';
import { median } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '4' },
    device: { type: 'string', default: 'cpu' },
    model: { type: 'string', default: 'resnet32' },
    size: { type: 'string', default: '32' },
  },
});
const batch = Number(flags.batch);
const device = flags.device!;
const size = Number(flags.size);
const variants = [
  { name: 'float32', precision: 'float32', channelsLast: false },
  { name: 'float32 channels-last', precision: 'float32', channelsLast: true },
  { name: 'bfloat16', precision: 'bfloat16', channelsLast: false },
  { name: 'bfloat16 channels-last', precision: 'bfloat16', channelsLast: true },
] as const;

function stepTimes(variant: (typeof variants)[number]): number[] {
  torch.manualSeed(0);
  const model = createModel(flags.model as 'resnet32', { numClasses: 10 }).to(device);
  if (variant.channelsLast) model.toChannelsLast();
  const optimizer = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  const contiguous = torch.randn([batch, 3, size, size], { device });
  const images = variant.channelsLast ? contiguous.contiguous('channelsLast') : contiguous;
  const labels = torch.randint(0, 10, [batch], { device });
  const times: number[] = [];
  for (let step = 0; step < Number(flags.warmup) + Number(flags.steps); step++) {
    const started = performance.now();
    torch.scope(() => {
      const features =
        variant.precision === 'float32'
          ? model.features(images)
          : torch.autocast(device, { dtype: 'bfloat16' }, () => model.features(images)).to('float32');
      const loss = torch.nn.functional.crossEntropy(model.classifier.call(model.neck.call(features)), labels);
      loss.backward();
      optimizer.step();
      optimizer.zeroGrad();
      loss.item();
    });
    if (step >= Number(flags.warmup)) times.push((performance.now() - started) / 1000);
  }
  return times;
}

const times = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
for (let round = 0; round < Number(flags.rounds); round++) {
  for (const variant of variants) times.get(variant.name)!.push(...stepTimes(variant));
}
const base = median(times.get('float32')!);
console.log(
  JSON.stringify({
    bench: 'precision-step',
    model: flags.model,
    batch,
    device,
    threads: torch.getNumThreads(),
    variants: variants.map(({ name }) => {
      const seconds = median(times.get(name)!);
      return { name, medianSeconds: Number(seconds.toFixed(4)), speedOverFloat32: Number((base / seconds).toFixed(3)) };
    }),
  }),
);
