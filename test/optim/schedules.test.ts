// Learning-rate schedules: their values at chosen epochs and iterations, composition, bad arguments, and that the
// lr they give is the size of AdamW's and SAM's steps.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { AdamW, type Optimizer, SAM, SGD, constantLr, cosineLr, linearWarmup, multiStepLr } from '../../src/optim/index.js';

const ITERS = 100;

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs ${expected}`);
}

test("LDAM-DRW's CIFAR schedule: 5 warm-up epochs at e+1/5, x0.01 at epoch 160 and again at 180", () => {
  const schedule = multiStepLr({ lr: 0.1, milestones: [160, 180], gamma: 0.01, warmupEpochs: 5 });
  // adjust_learning_rate(epoch): epoch + 1 <= 5 -> lr (epoch + 1) / 5; epoch + 1 > 180 -> lr 1e-4; > 160 -> lr 1e-2.
  const expected: [number, number][] = [
    [0, 0.02],
    [1, 0.04],
    [3, 0.08],
    [4, 0.1],
    [5, 0.1],
    [159, 0.1],
    [160, 1e-3],
    [179, 1e-3],
    [180, 1e-5],
    [199, 1e-5],
  ];
  for (const [epoch, lr] of expected) {
    near(schedule.lrAt(epoch, 0, ITERS), lr, `epoch ${epoch}`);
    near(schedule.lrAt(epoch, ITERS - 1, ITERS), lr, `epoch ${epoch}, last iteration (per-epoch schedule)`);
  }
});

test('multi-step without warm-up: gamma 0.1 by default', () => {
  const schedule = multiStepLr({ lr: 1, milestones: [2, 4] });
  assert.deepEqual(
    [0, 1, 2, 3, 4, 10].map((epoch) => schedule.lrAt(epoch, 0, 1)),
    [1, 1, 0.1, 0.1, 0.1 ** 2, 0.1 ** 2],
  );
});

test('cosine anneals every iteration from lr to minLr after the warm-up, then stays at minLr', () => {
  const schedule = cosineLr({ lr: 0.2, epochs: 12, minLr: 0.01, warmupEpochs: 2 });
  near(schedule.lrAt(0, 50, ITERS), 0.2 / 2, 'warm-up epoch 0');
  near(schedule.lrAt(1, 0, ITERS), 0.2, 'warm-up epoch 1 reaches lr');
  near(schedule.lrAt(2, 0, ITERS), 0.2, 'annealing starts at lr');
  near(schedule.lrAt(7, 0, ITERS), 0.01 + 0.19 / 2, 'half way: the mean of lr and minLr');
  near(schedule.lrAt(4, 50, ITERS), 0.01 + (0.19 * (1 + Math.cos(Math.PI * 0.25))) / 2, 'a quarter of the way, mid-epoch');
  assert.ok(schedule.lrAt(7, 1, ITERS) < schedule.lrAt(7, 0, ITERS), 'moves within an epoch');
  near(schedule.lrAt(11, ITERS - 1, ITERS), 0.01 + (0.19 * (1 + Math.cos(Math.PI * (1 - 1 / 1000)))) / 2, 'the last iteration');
  near(schedule.lrAt(30, 0, ITERS), 0.01, 'after the end');
  const plain = cosineLr({ lr: 1, epochs: 4 });
  assert.deepEqual(
    [0, 2].map((epoch) => plain.lrAt(epoch, 0, 1)),
    [1, 0.5],
  );
});

test('linearWarmup composes with any schedule', () => {
  const warmed = linearWarmup(constantLr(0.3), 3);
  near(warmed.lrAt(0, 0, 10), 0.1, 'epoch 0');
  near(warmed.lrAt(1, 9, 10), 0.2, 'epoch 1');
  near(warmed.lrAt(2, 0, 10), 0.3, 'epoch 2');
  near(warmed.lrAt(3, 0, 10), 0.3, 'after');
  near(linearWarmup(constantLr(0.3), 0).lrAt(0, 0, 1), 0.3, 'no warm-up');
});

test("warm-up, multistep and cosine drive AdamW's and SAM's steps: the lr set on their groups is the step's size", () => {
  const schedules = {
    'warm-up + multistep': multiStepLr({ lr: 0.1, milestones: [3], gamma: 0.1, warmupEpochs: 2 }),
    'warm-up + cosine': cosineLr({ lr: 0.1, epochs: 6, minLr: 0.001, warmupEpochs: 1 }),
  };
  const gradient = [1, -2, 0.5, 3];
  // What the trainer does before every step.
  const step = (optimizer: Optimizer, lr: number, run: () => void): void => {
    for (const group of optimizer.paramGroups) group.lr = lr;
    run();
  };
  for (const [name, schedule] of Object.entries(schedules)) {
    for (const [epoch, iteration] of [
      [0, 0],
      [1, 5],
      [2, 3],
      [3, 0],
      [5, 9],
    ] as const) {
      const lr = schedule.lrAt(epoch, iteration, 10);
      const where = `${name}, epoch ${epoch} iteration ${iteration} (lr ${lr})`;
      // AdamW's first step moves every weight by lr against its gradient's sign (m / sqrt(v) = sign g), eps aside.
      const w = torch.zeros([4], { requiresGrad: true });
      const adamw = new AdamW([w], { lr: 1, weightDecay: 0 });
      step(adamw, lr, () => {
        w.grad = torch.tensor(gradient);
        adamw.step();
      });
      w.toArray().forEach((value, i) =>
        assert.ok(Math.abs(value + lr * Math.sign(gradient[i]!)) <= 1e-6 * lr, `AdamW, ${where}: ${value}`),
      );
      // SAM's groups are its base's: with the same gradient at w and at w + e, the step is SGD's -lr g.
      const v = torch.zeros([4], { requiresGrad: true });
      const sam = new SAM(new SGD([v], { lr: 1 }), { rho: 0.3 });
      step(sam, lr, () => {
        v.grad = torch.tensor(gradient);
        sam.firstStep();
        v.grad = torch.tensor(gradient);
        sam.step();
      });
      v.toArray().forEach((value, i) => assert.ok(Math.abs(value + lr * gradient[i]!) <= 1e-6 * lr, `SAM, ${where}: ${value}`));
    }
  }
});

test('bad positions and options are refused', () => {
  const schedule = constantLr(0.1);
  assert.throws(() => schedule.lrAt(-1, 0, 10), /epoch must be an integer >= 0, got -1/);
  assert.throws(() => schedule.lrAt(0, 10, 10), /iteration must be an integer in \[0, 10\), got 10/);
  assert.throws(() => schedule.lrAt(0, 0, 0), /itersPerEpoch must be a positive integer, got 0/);
  assert.throws(() => multiStepLr({ lr: 0.1, milestones: [10, 5] }), /milestones must increase, got \[10, 5\]/);
  assert.throws(() => cosineLr({ lr: 0.1, epochs: 5, warmupEpochs: 5 }), /epochs must be an integer above warmupEpochs \(5\), got 5/);
  assert.throws(() => constantLr(Number.NaN), /lr must be a finite number >= 0/);
  assert.throws(() => linearWarmup(schedule, 1.5), /warmupEpochs must be an integer >= 0, got 1.5/);
});
