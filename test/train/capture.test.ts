// train.capture (src/train/capture.ts): which settings are captured and the one line a setting that cannot be says
// (a function of config and device: tested here for every case); that this CPU build's CUDA-graph calls say they
// have no CUDA; and on cuda (where there is a GPU: bench/gpu.sh runs it there), that the trainer's captured steps
// give the losses, parameters and running statistics of its eager steps, a ZCA neck's in parts around its
// eigendecomposition (on the CPU, through a stand-in for the graphs, bit for bit).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import type { CapturableOptimizer, OptimizerState } from '../../src/optim/index.js';
import { type GraphMaker, StepCapture, captureDecision } from '../../src/train/capture.js';
import { type Config, loadConfig, resolveConfig } from '../../src/train/config.js';
import { RunDir } from '../../src/train/run-dir.js';
import { Run } from '../../src/train/trainer.js';
import { writeCifar10 } from '../helpers/cifar.js';
import { assertClose } from '../helpers/compare.js';
import { temporaryDir } from '../helpers/python.js';

const base = resolveConfig({});

/** The default config with some sections' keys replaced (only what captureDecision reads matters). */
function withConfig(changes: {
  train?: Partial<Config['train']>;
  model?: Partial<Config['model']>;
  decoupled?: Partial<Config['decoupled']>;
}): Config {
  return {
    ...base,
    train: { ...base.train, ...changes.train },
    model: { ...base.model, ...changes.model },
    decoupled: { ...base.decoupled, ...changes.decoupled },
  };
}

test('captureDecision: captured on cuda where it can be; silently off on the CPU and when off; one line why otherwise', () => {
  assert.equal(base.train.capture, 'auto', 'auto by default');
  const captured = { capture: true, reason: null };
  const silent = { capture: false, reason: null };
  assert.deepEqual(captureDecision(base, 'cpu'), silent, 'capture is for cuda');
  assert.deepEqual(captureDecision(base, 'cuda'), captured);
  assert.deepEqual(captureDecision(base, 'cuda:1'), captured);
  assert.deepEqual(captureDecision(withConfig({ train: { capture: 'off' } }), 'cuda'), silent);
  const newtonSchulz = withConfig({ model: { neck: 'whitening', whitening: { ...base.model.whitening, method: 'newton-schulz' } } });
  assert.deepEqual(captureDecision(newtonSchulz, 'cuda'), captured, 'Newton-Schulz whitening is matrix products only');
  const zca = captureDecision(withConfig({ model: { neck: 'whitening' } }), 'cuda');
  assert.equal(zca.capture, true, 'ZCA whitening is captured in two parts');
  assert.match(zca.reason ?? '', /^train\.capture: the ZCA whitening's eigendecomposition waits for the host .* captured in two parts/);
  assert.ok(!zca.reason!.includes('\n'), 'one line');
  assert.deepEqual(captureDecision(withConfig({ model: { neck: 'whitening' } }), 'cpu'), silent);
  assert.deepEqual(captureDecision(withConfig({ model: { neck: 'batchnorm' } }), 'cuda'), captured);
  assert.deepEqual(captureDecision(withConfig({ train: { channelsLast: true } }), 'cuda'), captured);
  assert.deepEqual(captureDecision(withConfig({ decoupled: { method: 'tau-norm' } }), 'cuda'), silent, 'tau-norm takes no step');
  const eager: [string, Config, number, RegExp][] = [
    [
      "ZCA whitening with runningStats 'covariance'",
      withConfig({ model: { neck: 'whitening', whitening: { ...base.model.whitening, runningStats: 'covariance' } } }),
      1,
      /^train\.capture: ZCA whitening with runningStats 'covariance' takes a second eigendecomposition .*runningStats whitening captures\)$/,
    ],
    [
      'bfloat16 autocast',
      withConfig({ train: { precision: 'bfloat16' } }),
      1,
      /^train\.capture: bfloat16 autocast caches the cast weights/,
    ],
    ['data parallelism', base, 2, /^train\.capture: data parallelism reduces the gradients across processes/],
    ['cRT', withConfig({ decoupled: { method: 'crt' } }), 1, /^train\.capture: decoupled training \(crt\) trains the classifier alone/],
  ];
  for (const [what, config, worldSize, reason] of eager) {
    const decision = captureDecision(config, 'cuda', worldSize);
    assert.equal(decision.capture, false, what);
    assert.match(decision.reason ?? '', reason, what);
    assert.ok(!decision.reason!.includes('\n'), `${what}: one line`);
    assert.deepEqual(captureDecision(config, 'cpu', worldSize), silent, `${what} on the CPU: nothing to say`);
  }
});

test('a build without CUDA has CUDA graphs that say so', (t) => {
  if (torch.cuda.graphsBuilt()) return t.skip('this build has CUDA graphs');
  assert.throws(() => new torch.cuda.Graph('cuda'), /cudaGraphCreate: scatter was built without CUDA/);
  assert.throws(() => new torch.cuda.SideStream('cuda'), /cudaSideStreamCreate: scatter was built without CUDA/);
});

// Settings whose captured steps are compared with eager ones: plain SGD with the Newton-Schulz neck; mixup and
// cutmix (lam as a tensor) with logit adjustment and SAM; AdamW with DRW switching on at epoch 1 (a second graph)
// and channels-last images; the full method (whiten-la-b3rs-bet: ZCA whitening of all 64 channels, logit
// adjustment, BET's concatenated B3RS sub-batches), captured in two parts; ZCA in groups of 16 with mixing and SAM
// (a part per pass: three), and the typescript layer's ZCA in groups. `parts`: each captured graph's.
const CAPTURED_SETTINGS: { name: string; overrides: string[]; parts: number }[] = [
  { name: 'sgd, newton-schulz whitening', overrides: ['model.neck=whitening', 'model.whitening.method=newton-schulz'], parts: 1 },
  {
    name: 'mixup and cutmix, la, sam',
    overrides: ['train.mix.mixupAlpha=1', 'train.mix.cutmixAlpha=1', 'loss.name=la', 'optim.name=sam', 'optim.sam.rho=0.05'],
    parts: 1,
  },
  {
    name: 'adamw, drw, channels-last',
    overrides: ['optim.name=adamw', 'optim.lr=0.001', 'loss.drwStartEpoch=1', 'train.channelsLast=true'],
    parts: 1,
  },
  {
    name: 'the full method: zca whitening, la, bet',
    overrides: [
      'model.neck=whitening',
      'loss.name=la',
      'train.sampler=bet',
      'train.b3rs.numBlocks=2',
      'train.bet.mode=concat',
      'train.bet.subBatchSize=4',
    ],
    parts: 2,
  },
  {
    name: 'zca whitening in groups of 16, mixup and cutmix, sam',
    overrides: [
      'model.neck=whitening',
      'model.whitening.groupSize=16',
      'train.mix.mixupAlpha=1',
      'train.mix.cutmixAlpha=1',
      'optim.name=sam',
      'optim.sam.rho=0.05',
    ],
    parts: 3,
  },
  {
    name: 'zca whitening (typescript) in groups of 32, float32 decomposition',
    overrides: [
      'model.neck=whitening',
      'model.whitening.groupSize=32',
      'model.whitening.implementation=typescript',
      'model.whitening.decompositionDtype=float32',
    ],
    parts: 2,
  },
];

/** A tiny CIFAR-10 run directory's config for the comparisons, on `device`. */
function tinyConfig(device: string): string {
  const work = temporaryDir(`capture-${device.replace(':', '')}`);
  const dataRoot = path.join(work, 'cifar-10-batches-bin');
  writeCifar10(dataRoot, { trainPerClass: 24, testPerClass: 2 });
  const file = path.join(work, 'tiny.yaml');
  writeFileSync(
    file,
    `seed: 5
data: { dataset: cifar10, root: ${dataRoot}, imbalance: { profile: exponential, ratio: 4 }, augment: cifar, workers: 0 }
train: { epochs: 2, batchSize: 12, device: ${device}, threads: 1 }
schedule: { warmupEpochs: 1, milestones: [1], gamma: 0.1 }
optim: { lr: 0.05, momentum: 0.9, weightDecay: 0.0005 }
`,
  );
  return file;
}

/**
 * Two epochs of every setting with train.capture off and with the steps captured (`capture` makes the StepCapture;
 * default: the run's own): the epochs' losses and the model's parameters and buffers within `tolerance`.
 */
async function compareWithEager(file: string, tolerance: number, capture?: (run: Run) => StepCapture): Promise<void> {
  for (const { name, overrides, parts } of CAPTURED_SETTINGS) {
    const runs = ['off', 'auto'].map((setting) => {
      const config = loadConfig(file, [...overrides, `train.capture=${setting}`]);
      return new Run(config, new RunDir(path.join(path.dirname(file), `${name}-${setting}`)), false, null, null);
    });
    try {
      const [eager, captured] = runs as [Run, Run];
      assert.equal(eager.capture, null, `${name}: capture off`);
      if (capture !== undefined) captured.capture = capture(captured);
      assert.ok(captured.capture !== null, `${name}: capture on`);
      for (let epoch = 0; epoch < 2; epoch++) {
        const losses: number[] = [];
        for (const run of runs) losses.push(await run.trainEpoch(epoch, run.optimizer!));
        const error = Math.abs(losses[0]! - losses[1]!) / Math.max(1, Math.abs(losses[0]!));
        assert.ok(error <= tolerance, `${name}, epoch ${epoch}: losses ${losses.join(' vs ')}`);
      }
      assert.ok(captured.capture!.replays > 0, `${name}: steps were replayed`);
      const graphs = captured.capture!.parts;
      assert.ok(graphs.length > 0, `${name}: captured`);
      assert.deepEqual(
        graphs,
        graphs.map(() => parts),
        `${name}: parts of each captured graph`,
      );
      const expected = eager.model.stateDict();
      for (const [key, tensor] of Object.entries(captured.model.stateDict())) {
        if (tensor.dtype === 'int64') assert.ok(tensor.equal(expected[key]!), `${name}: ${key}`);
        else assertClose(tensor, expected[key], tolerance, `${name}: ${key}`);
      }
    } finally {
      for (const run of runs) await run.close();
    }
  }
}

/**
 * A stand-in for torch.cuda's graphs on the CPU that keeps a capture's semantics: capture() runs the body and then
 * puts the model and the optimizer back as they were (a real capture runs nothing), replay() runs the body again and
 * writes its losses into the tensors the capture returned. Both run the body inside a part boundary
 * (torch.cuda.withPartBoundary), as Graph.capture does, so that a ZCA neck takes its path around the
 * eigendecomposition; the host's work runs where the cut is, which on the CPU is the order a replay keeps (part,
 * host step, part). What it checks is StepCapture's and the trainer's bookkeeping (inputs loaded into the buffers,
 * lam as tensors, the optimizer prepared once a step, kinds of step) and the two-part whitening's arithmetic; not the
 * graphs' streams and memory pool, which only cuda has.
 */
function rerunningGraphs(run: Run): GraphMaker {
  const snapshot = (): { model: Record<string, torch.Tensor>; optimizer: OptimizerState } => {
    const state = run.optimizer!.stateDict();
    return {
      model: Object.fromEntries(Object.entries(run.model.stateDict()).map(([key, tensor]) => [key, tensor.clone()])),
      optimizer: {
        tensors: Object.fromEntries(Object.entries(state.tensors).map(([key, tensor]) => [key, tensor.clone()])),
        groups: state.groups,
      },
    };
  };
  return {
    sideStream: () => ({ run: (body) => body() }),
    graph: () => {
      let recorded: (() => torch.Tensor[]) | null = null;
      let outputs: torch.Tensor[] = [];
      let parts = 0;
      const inParts = <T>(body: () => T): { result: T; parts: number } => {
        let cuts = 0;
        const result = torch.cuda.withPartBoundary((work) => {
          cuts += 1;
          work();
        }, body);
        return { result, parts: cuts + 1 };
      };
      return {
        get parts(): number {
          return parts;
        },
        capture<T>(body: () => T): T {
          const before = snapshot();
          const { result, parts: made } = inParts(body);
          parts = made;
          recorded = body as unknown as () => torch.Tensor[];
          outputs = result as unknown as torch.Tensor[];
          torch.noGrad(() => run.model.loadStateDict(before.model, { strict: true }));
          run.optimizer!.loadStateDict(before.optimizer);
          return result;
        },
        replay(): void {
          const { result: losses, parts: again } = inParts(recorded!);
          assert.equal(again, parts, 'a replay is cut where its capture was');
          torch.noGrad(() => losses.forEach((loss, i) => outputs[i]!.copy_(loss)));
        },
      };
    },
  };
}

test('on the CPU, with a stand-in for CUDA graphs: the trainer’s captured-step path gives its eager steps bit for bit', async () => {
  await compareWithEager(
    tinyConfig('cpu'),
    0,
    (run) => new StepCapture('cpu', run.optimizer as CapturableOptimizer, 3, rerunningGraphs(run)),
  );
});

test('on cuda: captured training steps give the eager steps’ losses, parameters and running statistics (1e-5)', async (t) => {
  if (!torch.cuda.isAvailable()) return t.skip('no CUDA device here (bench/gpu.sh runs this test on a GPU)');
  if (!torch.cuda.graphsBuilt()) return t.skip('this build of scatter has no CUDA graphs');
  await compareWithEager(tinyConfig('cuda'), 1e-5);
});
