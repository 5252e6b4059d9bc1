// Learning-rate schedules as pure functions of the position in training: lrAt(epoch, iteration,
// itersPerEpoch), with epoch and iteration counted from 0, is the rate for that iteration's step. The
// trainer sets each parameter group's lr from it before every step.
//
// Warm-up is per epoch, as in LDAM-DRW's adjust_learning_rate: epoch e < warmupEpochs runs at
// (e + 1) / warmupEpochs of the rate (so 5 warm-up epochs give 1/5, 2/5, ... 5/5), constant within the
// epoch, which reproduces the CIFAR-LT baselines exactly. Cosine annealing moves every iteration.

export interface LrSchedule {
  lrAt(epoch: number, iteration: number, itersPerEpoch: number): number;
}

function checkPosition(epoch: number, iteration: number, itersPerEpoch: number): void {
  if (!(Number.isInteger(itersPerEpoch) && itersPerEpoch >= 1))
    throw new RangeError(`itersPerEpoch must be a positive integer, got ${itersPerEpoch}`);
  if (!(Number.isInteger(epoch) && epoch >= 0)) throw new RangeError(`epoch must be an integer >= 0, got ${epoch}`);
  if (!(Number.isInteger(iteration) && iteration >= 0 && iteration < itersPerEpoch)) {
    throw new RangeError(`iteration must be an integer in [0, ${itersPerEpoch}), got ${iteration}`);
  }
}

function checkRate(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
}

function checkEpochCount(name: string, value: number): void {
  if (!(Number.isInteger(value) && value >= 0)) throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
}

/** A schedule from a function of the checked position. */
function schedule(lrAt: (epoch: number, iteration: number, itersPerEpoch: number) => number): LrSchedule {
  return {
    lrAt(epoch, iteration, itersPerEpoch) {
      checkPosition(epoch, iteration, itersPerEpoch);
      return lrAt(epoch, iteration, itersPerEpoch);
    },
  };
}

export function constantLr(lr: number): LrSchedule {
  checkRate('lr', lr);
  return schedule(() => lr);
}

/** Scales another schedule by (epoch + 1) / warmupEpochs during the first warmupEpochs epochs. */
export function linearWarmup(inner: LrSchedule, warmupEpochs: number): LrSchedule {
  checkEpochCount('warmupEpochs', warmupEpochs);
  return schedule((epoch, iteration, itersPerEpoch) => {
    const lr = inner.lrAt(epoch, iteration, itersPerEpoch);
    return epoch < warmupEpochs ? (lr * (epoch + 1)) / warmupEpochs : lr;
  });
}

export interface MultiStepOptions {
  lr: number;
  /** Epochs (from 0) at whose start the rate is multiplied by gamma, increasing. */
  milestones: readonly number[];
  gamma?: number;
  warmupEpochs?: number;
}

/**
 * lr x gamma^(number of milestones <= epoch), after linear warm-up. LDAM-DRW's CIFAR schedule is
 * { lr: 0.1, milestones: [160, 180], gamma: 0.01, warmupEpochs: 5 }.
 */
export function multiStepLr(options: MultiStepOptions): LrSchedule {
  const { lr, milestones } = options;
  const gamma = options.gamma ?? 0.1;
  checkRate('lr', lr);
  checkRate('gamma', gamma);
  milestones.forEach((milestone, i) => {
    checkEpochCount('a milestone', milestone);
    if (i > 0 && milestone <= milestones[i - 1]!) throw new RangeError(`milestones must increase, got [${milestones.join(', ')}]`);
  });
  const stepped = schedule((epoch) => lr * gamma ** milestones.filter((milestone) => milestone <= epoch).length);
  return linearWarmup(stepped, options.warmupEpochs ?? 0);
}

export interface CosineOptions {
  lr: number;
  /** Total epochs: the rate reaches minLr at the end of the last one and stays there. */
  epochs: number;
  minLr?: number;
  warmupEpochs?: number;
}

/**
 * Linear warm-up to lr, then half a cosine from lr to minLr over the remaining epochs, every iteration:
 * minLr + (lr - minLr) (1 + cos(pi t)) / 2, t the fraction of the post-warm-up iterations done.
 */
export function cosineLr(options: CosineOptions): LrSchedule {
  const { lr, epochs } = options;
  const minLr = options.minLr ?? 0;
  const warmupEpochs = options.warmupEpochs ?? 0;
  checkRate('lr', lr);
  checkRate('minLr', minLr);
  checkEpochCount('warmupEpochs', warmupEpochs);
  if (!(Number.isInteger(epochs) && epochs > warmupEpochs)) {
    throw new RangeError(`epochs must be an integer above warmupEpochs (${warmupEpochs}), got ${epochs}`);
  }
  const annealed = schedule((epoch, iteration, itersPerEpoch) => {
    const done = (epoch - warmupEpochs + iteration / itersPerEpoch) / (epochs - warmupEpochs);
    const t = Math.min(Math.max(done, 0), 1);
    return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * t))) / 2;
  });
  return linearWarmup(annealed, warmupEpochs);
}
