// A decoupled run's stage 1 (cRT, LWS, tau-norm start from a finished joint-training run): found and checked
// before anything is loaded, so that a second stage never re-balances a classifier on another model or split.
import { existsSync } from 'node:fs';

import { leaves } from '../util/objects.js';
import type { Config } from './config.js';
import { trainingRecipe } from './recipe.js';
import { RunDir } from './run-dir.js';

/**
 * What stage 1 and its second stage must share: the model (the settings that take effect in it) and the keys
 * that choose the training images.
 */
function sharedKeys(config: Config): Record<string, unknown> {
  const { dataset, trainList, testList, imbalance, holdoutPerClass } = config.data;
  return { model: trainingRecipe(config).model, data: { dataset, trainList, testList, imbalance, holdoutPerClass } };
}

/**
 * The stage-1 checkpoint a decoupled run starts from (null for joint training), after checking that stage 1
 * is a finished joint-training run of the same model on the same training split, held-out images included:
 * the second stage re-balances the classifier on exactly the representation and images stage 1 learned.
 */
export function stage1Checkpoint(config: Config): string | null {
  const { method, from, checkpoint } = config.decoupled;
  if (method === null) return null;
  const fail = (why: string): never => {
    throw new Error(`decoupled.from: ${why}`);
  };
  if (from === null) return fail(`required with decoupled.method ${method}: name the stage-1 run with --set decoupled.from=RUN_DIR`);
  let dir: RunDir;
  try {
    dir = RunDir.open(from);
  } catch (error) {
    return fail((error as Error).message);
  }
  const stage1 = dir.config();
  if (stage1.decoupled.method !== null) fail(`${from} is a ${stage1.decoupled.method} run, not a joint-training run`);
  const theirs = leaves(sharedKeys(stage1));
  for (const [key, ours] of leaves(sharedKeys(config))) {
    if (theirs.get(key) !== ours) fail(`${from} was trained with ${key} = ${theirs.get(key)}, this config has ${ours}`);
  }
  const lastEpoch = dir.readMetrics().at(-1)?.epoch ?? 0;
  if (lastEpoch !== stage1.train.epochs) fail(`${from} has not finished (${lastEpoch} of ${stage1.train.epochs} epochs): resume it first`);
  const file = dir.checkpoint(checkpoint);
  if (!existsSync(file)) fail(`${from} has no ${checkpoint} checkpoint (${file})`);
  return file;
}
