// BET (Batch Embedded Training): instance sampling with B3RS batches (b3rs.ts) embedded in it, interleaved or
// concatenated, so that the whitening layer sees batches of steadier statistics while every item is still seen
// once per epoch (docs/paper.md, claim 4). Only its outline is published; docs/method.md ("BET") gives the two
// readings and the default. Like every batch sampler, it is a pure function of (options, seed, epoch).
import { type B3RSOptions, B3RSBatchSampler, type LabelledData, assertInteger, spreadSlots } from './b3rs.js';
import { type BatchSampler, ChunkedBatchSampler, RandomSampler } from './samplers.js';

/** BET's two readings: every `period`-th batch is a B3RS batch, or a B3RS sub-batch joins every batch. */
export type BETMode = { mode: 'interleave'; period: number } | { mode: 'concat'; subBatchSize: number };

export type BETOptions = BETMode & {
  seed: number;
  /** The first epoch with B3RS items (default 0); earlier epochs are plain instance sampling. */
  startEpoch?: number;
  /** The embedded B3RS batches' blocks and shares. */
  b3rs?: Pick<B3RSOptions, 'numBlocks' | 'q' | 'blocking'>;
};

/**
 * BET: instance sampling (every item once per epoch, in full batches: instance sampling's epoch length)
 * with B3RS items embedded from startEpoch on. 'interleave': batch j is B3RS batch j of the same epoch,
 * in place of instance batch j, when (j + 1) % period === 0. 'concat': every batch j also holds B3RS
 * batch j of subBatchSize items, spread along it (embeddedPositions).
 */
export class BatchEmbeddedSampler implements BatchSampler {
  readonly startEpoch: number;
  readonly numBatches: number;
  readonly instance: ChunkedBatchSampler;
  readonly b3rs: B3RSBatchSampler;
  /** Every period-th batch holds B3RS items: T for 'interleave', 1 for 'concat'. */
  readonly period: number;
  /** 'concat': the source of each position of a batch of batchSize + subBatchSize, 0 instance, 1 B3RS. */
  private readonly concatSources: Int32Array | undefined;

  constructor(
    dataset: LabelledData,
    readonly batchSize: number,
    readonly options: BETOptions,
  ) {
    this.startEpoch = options.startEpoch ?? 0;
    assertInteger(this.startEpoch, 'BET startEpoch', 0);
    this.instance = new ChunkedBatchSampler(new RandomSampler(dataset.length, { seed: options.seed }), batchSize, { dropLast: true });
    this.numBatches = Math.floor(dataset.length / batchSize);
    assertInteger(this.numBatches, `BET batches per epoch (data set of ${dataset.length} items, batches of ${batchSize})`, 1);
    const b3rsOptions = { ...options.b3rs, seed: options.seed, numBatches: this.numBatches };
    switch (options.mode) {
      case 'interleave':
        assertInteger(options.period, 'BET period', 1);
        this.period = options.period;
        this.b3rs = new B3RSBatchSampler(dataset, batchSize, b3rsOptions);
        break;
      case 'concat':
        this.period = 1;
        this.b3rs = new B3RSBatchSampler(dataset, options.subBatchSize, b3rsOptions);
        this.concatSources = spreadSlots([batchSize, options.subBatchSize]);
        break;
      default:
        throw new RangeError(`BET mode must be 'interleave' or 'concat', got '${String((options as { mode: unknown }).mode)}'`);
    }
  }

  private embeds(epoch: number, batch: number): boolean {
    return epoch >= this.startEpoch && (batch + 1) % this.period === 0;
  }

  /** The batches of `epoch` that hold B3RS items, in order. */
  embeddedBatches(epoch: number): number[] {
    return Array.from({ length: this.numBatches }, (_, j) => j).filter((j) => this.embeds(epoch, j));
  }

  /** The positions of global batch `batch` of `epoch` that hold B3RS items. */
  embeddedPositions(epoch: number, batch: number): Int32Array {
    if (!this.embeds(epoch, batch)) return new Int32Array(0);
    if (this.concatSources === undefined) return Int32Array.from({ length: this.batchSize }, (_, i) => i);
    const sources = this.concatSources;
    return Int32Array.from(sources.keys()).filter((position) => sources[position] === 1);
  }

  epochBatches(epoch: number): Int32Array[] {
    const instance = this.instance.epochBatches(epoch);
    if (epoch < this.startEpoch) return instance;
    const b3rs = this.b3rs.epochBatches(epoch);
    const sources = this.concatSources;
    if (sources === undefined) return instance.map((batch, j) => (this.embeds(epoch, j) ? b3rs[j]! : batch));
    return instance.map((batch, j) => {
      const parts = [batch, b3rs[j]!];
      const taken = [0, 0];
      return sources.map((source) => parts[source]![taken[source]!++]!);
    });
  }
}
