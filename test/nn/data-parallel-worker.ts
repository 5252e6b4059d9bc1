// One process of data-parallel.test.ts. With torchrun's variables set it is one rank of a group trained
// with DataParallel; without them, the one-process reference on the whole global batch. It trains a
// small batch-norm-free model (conv, pool, optional whitening neck, linear) with SGD (or SAM around it: modes
// ending in -sam, the trainer's optimizerStep with the gradients reduced after each of its passes) for a few steps
// on fixed random data and prints its final parameters as JSON.
// usage: node data-parallel-worker.js per-rank|sync-whitening[-sam] [steps] [--print-steps]
import { data, longtail, nn, optim, torch } from '../../src/index.js';
import { optimizerStep, reduceStepGradients, rowsPerRank, stepLoss } from '../../src/train/step.js';

const [mode = 'per-rank', stepsArg = '4', printSteps] = process.argv.slice(2);
const syncHead = mode.startsWith('sync-whitening');
const steps = Number(stepsArg);
const GLOBAL_BATCH = 13; // odd: the two ranks hold 6 and 7 images

torch.manualSeed(7);
const features = new nn.Sequential(new nn.Conv2d(1, 6, 3, { padding: 1 }), new nn.ReLU(), new nn.AdaptiveAvgPool2d(1), new nn.Flatten());
const neck = syncHead ? new longtail.ChannelWhitening(6, { eps: 1e-3 }) : new nn.Identity();
const classifier = new nn.Linear(6, 3);
const model = new nn.Sequential(features, neck, classifier);
const head = [...neck.parameters(), ...classifier.parameters()];

const distributed = (process.env.WORLD_SIZE ?? '1') !== '1';
const parallel = distributed ? new nn.DataParallel(torch.distributed.initProcessGroup({ timeoutMs: 5_000 })) : null;
if (parallel !== null && parallel.rank !== 0) torch.manualSeed(1000 + parallel.rank); // differ until the broadcast
parallel?.broadcastState(model);
const sgd = new optim.SGD(model.parameters(), { lr: 0.2, momentum: 0.9, weightDecay: 1e-3 });
const optimizer = mode.endsWith('-sam') ? new optim.SAM(sgd, { rho: 0.1 }) : sgd;

torch.manualSeed(99);
const images = torch.randn([steps, GLOBAL_BATCH, 1, 5, 5]);
const labels = torch.randint(0, 3, [steps, GLOBAL_BATCH]);
const loss = (logits: torch.Tensor, targets: torch.Tensor): torch.Tensor => torch.nn.functional.crossEntropy(logits, targets);

for (let step = 0; step < steps; step++) {
  torch.scope(() => {
    const x = images.select(0, step);
    const y = labels.select(0, step);
    optimizerStep(optimizer, model, () => {
      if (parallel === null) {
        const value = loss(model.call(x), y);
        value.backward();
        return value.item();
      }
      const { start, end } = data.shardRange(GLOBAL_BATCH, parallel.rank, parallel.worldSize);
      const result = stepLoss(parallel, {
        images: x.slice(0, start, end),
        labels: y.slice(0, start, end),
        rowsPerRank: rowsPerRank(GLOBAL_BATCH, parallel.worldSize),
        syncHead,
        loss,
        features: (input) => features.call(input),
        head: (pooled) => classifier.call(neck.call(pooled)),
      });
      result.loss.backward();
      reduceStepGradients(parallel, model.parameters(), head, syncHead);
      return result.mean.item();
    });
  });
  if (printSteps !== undefined) process.stderr.write(`step ${step + 1}\n`);
}

const parameters = Object.fromEntries(
  [...model.namedParameters()].map(([name, tensor]) => [name, Array.from(tensor.toTypedArray() as Float32Array)]),
);
process.stdout.write(`${JSON.stringify(parameters)}\n`);
parallel?.group.destroy();
