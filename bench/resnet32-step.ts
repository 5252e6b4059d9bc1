// Benchmark: a ResNet-32 training step (CIFAR shapes: batch of 3x32x32, 10 classes; forward, cross-entropy,
// backward, SGD update) through scatter and through Python PyTorch, alternating in one run on the same
// threads, and the ratio of their median step times (scatter's throughput relative to PyTorch's).
// --capture (cuda): the whole step recorded once as a CUDA graph after the warm-up steps (run on a side stream) and
// replayed, on both sides (scatter's torch.cuda.Graph, Python's torch.cuda.graph); --precision bfloat16: the forward
// in autocast (the loss in float32); --channels-last: weights and images channels-last (NHWC).
// --neck whitening: the full method's neck (ChannelWhitening: ZCA of the 64 pooled channels, the native node, float64
// eigendecomposition) between the pooling and the classifier, captured in two parts around its eigh (hostStep); scatter
// alone (the Python half has no such layer, and torch.cuda.graph cannot hold eigh): the pytorch fields are null.
// Usage: node dist/bench/resnet32-step.js [--batch 128] [--steps 5] [--rounds 8] [--device cpu|cuda] [--capture]
//   [--precision float32|bfloat16] [--channels-last] [--neck identity|whitening] [--warmup 2]
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { torch } from '../src/index.js';
import { ChannelWhitening } from '../src/longtail/index.js';
import { median } from './stats.js';

type Tensor = torch.Tensor;

const { values: flags } = parseArgs({
  options: {
    batch: { type: 'string', default: '128' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '8' },
    device: { type: 'string', default: 'cpu' },
    python: { type: 'string', default: process.env.SCATTER_PYTHON ?? '/usr/bin/python3' },
    capture: { type: 'boolean', default: false },
    precision: { type: 'string', default: 'float32' },
    'channels-last': { type: 'boolean', default: false },
    neck: { type: 'string', default: 'identity' },
  },
});
const batch = Number(flags.batch);
const steps = Number(flags.steps);
const warmup = Number(flags.warmup);
const device = flags.device!;
const threads = torch.getNumThreads();
const capture = flags.capture!;
const precision = flags.precision!;
const channelsLast = flags['channels-last']!;
const neck = flags.neck!;
if (neck !== 'identity' && neck !== 'whitening') throw new Error(`--neck: identity or whitening, got ${neck}`);
if (precision !== 'float32' && precision !== 'bfloat16') throw new Error(`--precision: float32 or bfloat16, got ${precision}`);
if (capture && !device.startsWith('cuda')) throw new Error('--capture is for cuda');
// Warm-up steps before a capture: torch.cuda.graphs' examples take 3.
if (capture && warmup < 3) throw new Error('--capture needs --warmup 3 or more');

interface Net {
  params: Map<string, Tensor>;
  bn: Map<string, [Tensor, Tensor]>;
  /** --neck whitening's layer; null: the pooled features go straight to the classifier. */
  whitening: ChannelWhitening | null;
}

function makeNet(): Net {
  const params = new Map<string, Tensor>();
  const bn = new Map<string, [Tensor, Tensor]>();
  const conv = (name: string, cin: number, cout: number): void => {
    const weight = torch
      .randn([cout, cin, 3, 3], { device })
      .mul(Math.sqrt(2 / (9 * cin)))
      .clone(channelsLast ? 'channelsLast' : 'contiguous');
    params.set(name, weight.requiresGrad_());
  };
  const norm = (name: string, c: number): void => {
    params.set(`${name}.weight`, torch.ones([c], { device, requiresGrad: true }));
    params.set(`${name}.bias`, torch.zeros([c], { device, requiresGrad: true }));
    bn.set(name, [torch.zeros([c], { device }), torch.ones([c], { device })]);
  };
  conv('stem', 3, 16);
  norm('stem.bn', 16);
  let cin = 16;
  [16, 32, 64].forEach((width, stage) => {
    for (let block = 0; block < 5; block++) {
      const name = `s${stage}b${block}`;
      conv(`${name}.conv1`, cin, width);
      norm(`${name}.bn1`, width);
      conv(`${name}.conv2`, width, width);
      norm(`${name}.bn2`, width);
      cin = width;
    }
  });
  params.set('fc.weight', torch.randn([10, 64], { device }).mul(0.1).requiresGrad_());
  params.set('fc.bias', torch.zeros([10], { device, requiresGrad: true }));
  return { params, bn, whitening: neck === 'whitening' ? new ChannelWhitening(64).to(device) : null };
}

function bnRelu(x: Tensor, net: Net, name: string, relu = true): Tensor {
  const [mean, variance] = net.bn.get(name)!;
  const y = torch.batchNorm(x, mean, variance, {
    weight: net.params.get(`${name}.weight`)!,
    bias: net.params.get(`${name}.bias`)!,
    training: true,
  });
  return relu ? torch.relu(y) : y;
}

// The forward pass runs in a scope that returns only the logits, as scatter's modules do: its intermediate
// tensors lose their JavaScript handles when it returns, so autograd alone holds what backward needs and
// frees each saved activation as backward passes it, as Python's reference counting does. (Holding them
// to the end of the step measured about 4% slower: backward then cannot reuse their memory.)
function forward(net: Net, x: Tensor): Tensor {
  return torch.scope(() => {
    const p = (name: string): Tensor => net.params.get(name)!;
    let h = bnRelu(torch.conv2d(x, p('stem'), null, { padding: 1 }), net, 'stem.bn');
    let cin = 16;
    [16, 32, 64].forEach((width, stage) => {
      for (let block = 0; block < 5; block++) {
        const name = `s${stage}b${block}`;
        const stride = stage > 0 && block === 0 ? 2 : 1;
        let out = bnRelu(torch.conv2d(h, p(`${name}.conv1`), null, { stride, padding: 1 }), net, `${name}.bn1`);
        out = bnRelu(torch.conv2d(out, p(`${name}.conv2`), null, { padding: 1 }), net, `${name}.bn2`, false);
        let shortcut = h;
        if (stride !== 1 || cin !== width) {
          // Option A: subsample and zero-pad the channels (the LDAM-DRW ResNet-32).
          const padChannels = (width - cin) / 2;
          shortcut = torch.nn.functional.pad(h.slice(2, 0, undefined, 2).slice(3, 0, undefined, 2), [0, 0, 0, 0, padChannels, padChannels]);
        }
        h = torch.relu(out.add(shortcut));
        cin = width;
      }
    });
    const pooled = torch.nn.functional.adaptiveAvgPool2d(h, 1).flatten(1);
    // The neck in float32, as the trainer runs it (autocast covers the backbone only).
    const embedding = net.whitening === null ? pooled : net.whitening.call(pooled.to('float32'));
    return torch.nn.functional.linear(embedding, p('fc.weight'), p('fc.bias'));
  });
}

/** Forward (in autocast under --precision bfloat16), cross-entropy in float32, backward, SGD update; returns the loss. */
function trainingStep(net: Net, x: Tensor, y: Tensor): Tensor {
  const logits =
    precision === 'bfloat16' ? torch.autocast(device, { dtype: 'bfloat16' }, () => forward(net, x)).to('float32') : forward(net, x);
  const loss = torch.nn.functional.crossEntropy(logits, y);
  loss.backward();
  torch.noGrad(() => {
    for (const param of net.params.values()) param.sub_(param.grad!, 0.01);
  });
  torch.zeroGrad(net.params.values());
  return loss;
}

function scatterRound(): number[] {
  torch.manualSeed(0);
  const net = makeNet();
  const x = torch.randn([batch, 3, 32, 32], { device }).clone(channelsLast ? 'channelsLast' : 'contiguous');
  const y = torch.randint(0, 10, [batch], { device });
  const times: number[] = [];
  // loss.item() waits for the device, as Python's loss.item() does.
  if (!capture) {
    for (let step = 0; step < warmup + steps; step++) {
      const start = performance.now();
      torch.scope(() => trainingStep(net, x, y).item());
      if (step >= warmup) times.push((performance.now() - start) / 1000);
    }
  } else {
    const side = new torch.cuda.SideStream(device);
    for (let step = 0; step < warmup; step++) side.run(() => torch.scope(() => trainingStep(net, x, y).item()));
    const graph = new torch.cuda.Graph(device);
    const loss = torch.scope(() => graph.capture(() => torch.keep(trainingStep(net, x, y))));
    for (let step = 0; step < steps; step++) {
      const start = performance.now();
      graph.replay();
      loss.item();
      times.push((performance.now() - start) / 1000);
    }
    graph.reset();
    loss.dispose();
  }
  const whiteningBuffers = net.whitening === null ? [] : Object.values(net.whitening.stateDict());
  for (const tensor of [...net.params.values(), ...[...net.bn.values()].flat(), ...whiteningBuffers, x, y]) tensor.dispose();
  return times;
}

function pythonRound(): number[] {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'resnet32_step.py');
  const options = [capture ? 'capture' : 'eager', precision, channelsLast ? 'channels-last' : 'contiguous'];
  const result = spawnSync(flags.python!, [script, String(batch), String(steps), String(warmup), String(threads), device, ...options], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`Python PyTorch run failed:\n${result.stderr}`);
  return (JSON.parse(result.stdout) as { stepSeconds: number[] }).stepSeconds;
}

// Short alternating rounds, so that the shared machine's slow and fast spells fall on both sides.
const scatterTimes: number[] = [];
const pythonTimes: number[] = [];
const roundRatios: number[] = [];
for (let round = 0; round < Number(flags.rounds); round++) {
  const scatterRoundTimes = scatterRound();
  scatterTimes.push(...scatterRoundTimes);
  if (neck !== 'identity') continue;
  const pythonRoundTimes = pythonRound();
  pythonTimes.push(...pythonRoundTimes);
  roundRatios.push(median(pythonRoundTimes) / median(scatterRoundTimes));
}
const scatterMedian = median(scatterTimes);
const pythonMedian = pythonTimes.length > 0 ? median(pythonTimes) : null;
const fixed = (value: number, digits: number): number => Number(value.toFixed(digits));
console.log(
  JSON.stringify({
    bench: 'resnet32-step',
    device,
    capture,
    precision,
    channelsLast,
    neck,
    batch,
    threads,
    libtorch: torch.version().libtorch,
    steps: scatterTimes.length,
    scatterMedianSeconds: fixed(scatterMedian, 4),
    pytorchMedianSeconds: pythonMedian === null ? null : fixed(pythonMedian, 4),
    scatterImagesPerSecond: Math.round(batch / scatterMedian),
    pytorchImagesPerSecond: pythonMedian === null ? null : Math.round(batch / pythonMedian),
    ratio: pythonMedian === null ? null : fixed(pythonMedian / scatterMedian, 3),
    roundRatios: pythonMedian === null ? null : { min: fixed(Math.min(...roundRatios), 3), max: fixed(Math.max(...roundRatios), 3) },
  }),
);
