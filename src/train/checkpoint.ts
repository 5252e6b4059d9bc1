// The checkpoint format and the epoch commit. A checkpoint is one safetensors file: the model's state
// ('model.*'), the optimizer's ('optimizer.*'), libtorch's generator state ('rng.torch'), and under the
// 'scatter' metadata key the run's position (CheckpointMeta), which includes the metrics records of the epoch
// it ends.
//
// An epoch commits in one order: last.safetensors is replaced (the commit point: everything the epoch produced
// is inside it), then best.safetensors is made a copy of it when the epoch improved on the best, then the
// epoch's lines are appended to metrics.jsonl and batch-covariance.jsonl. A kill between any two steps leaves a
// run that reconcileRun completes from last.safetensors: no metrics line goes missing, and no best record
// points at a file that is not there. A state that is not finite is never written (the NaN guard's second half).
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

import type { Transform } from '../data/index.js';
import * as torch from '../torch/index.js';
import { temporaryFileOwner } from '../util/files.js';
import { processRuns } from '../util/processes.js';
import type { RunDir } from './run-dir.js';

/** What an epoch adds to metrics.jsonl and batch-covariance.jsonl, kept in its checkpoint until they hold it. */
export interface EpochRecords {
  metrics: Record<string, unknown>;
  batchCovariance: Record<string, unknown>[];
}

/** How to use the model on new images (setup.ts modelCard): classes, training counts, input channels and transforms. */
export interface ModelCard {
  classNames: string[];
  classCounts: number[];
  numClasses: number;
  inChannels: number;
  /** From an image file to the model's input, as the loader applies them. */
  inputTransforms: Transform[];
}

/** What a checkpoint's metadata records besides the tensors. */
export interface CheckpointMeta {
  /** The next epoch to train (training resumes at its first batch); the epochs done. */
  epoch: number;
  bestTop1: number;
  /** The epoch (1-based) whose checkpoint best.safetensors holds; -1 before the first evaluation. */
  bestEpoch: number;
  optimizerGroups: unknown[];
  trainSeconds: number;
  /** The records of epoch `epoch` (absent in checkpoints written before the epoch commit existed). */
  committed?: EpochRecords;
  /** The model card (absent in checkpoints written before it existed: it is then rebuilt from the run's data). */
  card?: ModelCard;
}

/** A checkpoint's tensors and metadata. */
export function readCheckpoint(file: string): { tensors: Record<string, torch.Tensor>; meta: CheckpointMeta } {
  const { tensors, metadata } = torch.safetensors.loadFile(file);
  return { tensors, meta: parseMeta(metadata, file) };
}

/** A checkpoint's metadata alone (its header; no tensors read). */
export function readCheckpointMeta(file: string): CheckpointMeta {
  return parseMeta(torch.safetensors.loadMetadata(file), file);
}

function parseMeta(metadata: Record<string, string>, file: string): CheckpointMeta {
  if (metadata.scatter === undefined) throw new Error(`${file} is not a scatter checkpoint (no 'scatter' metadata)`);
  return JSON.parse(metadata.scatter) as CheckpointMeta;
}

/** The tensors whose names start with `prefix` ('model.', 'optimizer.'), under their names without it. */
export function section(tensors: Record<string, torch.Tensor>, prefix: string): Record<string, torch.Tensor> {
  return Object.fromEntries(
    Object.entries(tensors)
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, tensor]) => [name.slice(prefix.length), tensor]),
  );
}

/** Calls `use` with a checkpoint's model tensors and disposes them after. */
export function withModelState<T>(file: string, use: (state: Record<string, torch.Tensor>) => T): T {
  const { tensors } = readCheckpoint(file);
  try {
    return use(section(tensors, 'model.'));
  } finally {
    for (const tensor of Object.values(tensors)) tensor.dispose();
  }
}

/** The names of the floating-point tensors that hold a NaN or an infinity, in order; one reduction, one sync. */
export function nonFiniteTensors(tensors: Record<string, torch.Tensor>): string[] {
  const floating = Object.entries(tensors).filter(([, tensor]) => tensor.isFloatingPoint());
  if (floating.length === 0) return [];
  const finite = torch.noGrad(() =>
    torch.scope(() =>
      torch
        .stack(floating.map(([, tensor]) => tensor.isfinite().all()))
        .cpu()
        .toTypedArray(),
    ),
  );
  return floating.filter((_, i) => !finite[i]).map(([name]) => name);
}

/** Raised by the NaN/Inf guard: the run stops and says where, and which checkpoint is still good. */
export class NonFiniteLossError extends Error {
  constructor(epoch: number, step: number, loss: number, lastGood: string | null) {
    super(`loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}; ${lastGoodText(lastGood)}`);
    this.name = 'NonFiniteLossError';
  }
}

/** Raised when an epoch ends with parameters, buffers or optimizer state that are not finite: nothing is saved. */
export class NonFiniteStateError extends Error {
  constructor(epoch: number, names: readonly string[], lastGood: string | null) {
    super(
      `after epoch ${epoch} the training state is not finite (${names.length} tensor${names.length === 1 ? '' : 's'}, ` +
        `first ${names[0]}): it was not saved; ${lastGoodText(lastGood)}`,
    );
    this.name = 'NonFiniteStateError';
  }
}

function lastGoodText(lastGood: string | null): string {
  if (lastGood === null || !existsSync(lastGood)) return 'no checkpoint was written yet';
  return `the last good checkpoint is ${lastGood} (epoch ${readCheckpointMeta(lastGood).epoch})`;
}

/**
 * Commits an epoch (the order in the header): `tensors` with `meta` (whose `committed` holds the epoch's records)
 * become last.safetensors, best.safetensors too when `improved`, then the records are appended. Refuses (throws
 * NonFiniteStateError, writing nothing) a state that is not finite.
 */
export function commitEpoch(
  dir: RunDir,
  tensors: Record<string, torch.Tensor>,
  meta: CheckpointMeta & { committed: EpochRecords },
  improved: boolean,
): void {
  const bad = nonFiniteTensors(tensors);
  if (bad.length > 0) throw new NonFiniteStateError(meta.epoch, bad, dir.checkpoint('last'));
  torch.safetensors.saveFile(tensors, dir.checkpoint('last'), { scatter: JSON.stringify(meta) });
  if (improved) copyAtomic(dir.checkpoint('last'), dir.checkpoint('best'));
  dir.appendBatchCovariance(meta.committed.batchCovariance);
  dir.appendMetrics(meta.committed.metrics);
}

/** Copies `from` over `to` so that `to` is always whole: the old file or the new one. */
function copyAtomic(from: string, to: string): void {
  const temporary = `${to}.tmp-${process.pid}`;
  try {
    copyFileSync(from, temporary);
    renameSync(temporary, to);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new Error(`cannot write ${to}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Brings a run directory to the state its last checkpoint commits, whatever a kill left: temporary files of
 * dead writers removed, records after the checkpoint's epoch dropped, the checkpoint's own epoch records
 * appended where missing, and best.safetensors restored from last.safetensors when the best epoch is the last
 * one and best.safetensors is missing or older. Returns the last checkpoint's metadata, null without one.
 * The caller holds the run's training lock.
 */
export function reconcileRun(dir: RunDir): CheckpointMeta | null {
  for (const folder of [dir.root, path.dirname(dir.checkpoint('last'))]) {
    if (!existsSync(folder)) continue;
    for (const name of readdirSync(folder)) {
      const owner = temporaryFileOwner(name);
      if (owner !== null && !processRuns(owner)) rmSync(path.join(folder, name), { force: true });
    }
  }
  const last = dir.checkpoint('last');
  if (!existsSync(last)) {
    dir.truncateAfter(0);
    return null;
  }
  const meta = readCheckpointMeta(last);
  dir.truncateAfter(meta.epoch);
  const { committed } = meta;
  if (committed !== undefined && committed.metrics.epoch === meta.epoch) {
    if (committed.batchCovariance.length > 0 && !dir.readBatchCovariance().some((record) => record.epoch === meta.epoch)) {
      dir.appendBatchCovariance(committed.batchCovariance);
    }
    if ((dir.readMetrics().at(-1)?.epoch ?? 0) !== meta.epoch) dir.appendMetrics(committed.metrics);
  }
  const best = dir.checkpoint('best');
  if (meta.bestEpoch === meta.epoch && (!existsSync(best) || readCheckpointMeta(best).epoch !== meta.epoch)) copyAtomic(last, best);
  return meta;
}

/**
 * The checkpoint that `which` names, checked: 'best' must exist and be the best epoch's (or be last.safetensors,
 * when the best epoch is the last one); never another one in its place. Returns the file and its epoch.
 */
export function chooseCheckpoint(dir: RunDir, which: 'best' | 'last'): { file: string; epoch: number; note: string } {
  const last = dir.checkpoint('last');
  if (!existsSync(last)) throw new Error(`${dir.root} has no checkpoint yet (no epoch has finished)`);
  const meta = readCheckpointMeta(last);
  if (which === 'last') return { file: last, epoch: meta.epoch, note: `last.safetensors (epoch ${meta.epoch})` };
  if (meta.bestEpoch < 0)
    throw new Error(`${dir.root} has no best checkpoint: no evaluation yet after ${meta.epoch} epochs (use --checkpoint last)`);
  const best = dir.checkpoint('best');
  if (existsSync(best) && readCheckpointMeta(best).epoch === meta.bestEpoch) {
    return { file: best, epoch: meta.bestEpoch, note: `best.safetensors (epoch ${meta.bestEpoch})` };
  }
  if (meta.bestEpoch === meta.epoch) {
    return {
      file: last,
      epoch: meta.epoch,
      note: `the best epoch ${meta.bestEpoch}, which is last.safetensors (best.safetensors is missing or older)`,
    };
  }
  throw new Error(
    `${dir.root}: the best epoch is ${meta.bestEpoch} but best.safetensors ${existsSync(best) ? 'holds another epoch' : 'is missing'} ` +
      '(use --checkpoint last)',
  );
}
