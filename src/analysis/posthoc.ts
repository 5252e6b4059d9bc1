// Where a run's predictions go, and post-hoc logit adjustment (Menon et al.): the test logits ranked as
// scale x logits - tau x log(class prior) for a grid of tau, each scored as evaluation scores a run, with the share of
// the test images predicted as a many / medium / few class. tau 0 is the raw logits (a post-hoc CE run's own
// evaluation adds its adjustment on top of them); scale is the loss's softmax scale for cosine logits (LDAM's s).
import { logPrior } from '../longtail/losses.js';
import * as torch from '../torch/index.js';
import { type ShotThresholds, shotGroups } from '../data/index.js';
import { evaluate } from '../train/evaluation.js';

export const POSTHOC_TAUS = [0, 0.1, 0.2, 0.3, 0.5, 0.75, 1] as const;

export interface PosthocRow {
  tau: number;
  top1: number;
  many: number | null;
  medium: number | null;
  few: number | null;
  /** The share of the test images predicted as a class of each group. */
  predictedShare: { many: number; medium: number; few: number };
}

export interface PosthocAdjustment {
  /** What the logits were multiplied by first (LDAM's s; else 1). */
  logitScale: number;
  rows: PosthocRow[];
}

export function posthocAdjustment(
  logits: torch.Tensor,
  labels: readonly number[],
  classCounts: readonly number[],
  thresholds: ShotThresholds,
  logitScale = 1,
  taus: readonly number[] = POSTHOC_TAUS,
): PosthocAdjustment {
  const groups = shotGroups(classCounts, thresholds);
  const groupOf = new Array<'many' | 'medium' | 'few'>(classCounts.length);
  for (const shot of ['many', 'medium', 'few'] as const) for (const c of groups[shot]) groupOf[c] = shot;
  const prior = torch.tensor(logPrior(classCounts), { dtype: logits.dtype });
  const rows = taus.map((tau) => {
    const predictions = torch.noGrad(() => torch.scope(() => logits.mul(logitScale).sub(prior.mul(tau)).argmax(1).toArray()));
    const { top1, many, medium, few } = evaluate(predictions, labels, classCounts, thresholds);
    const predicted = { many: 0, medium: 0, few: 0 };
    for (const c of predictions) predicted[groupOf[c]!]++;
    const share = (count: number): number => count / predictions.length;
    return {
      tau,
      top1,
      many,
      medium,
      few,
      predictedShare: { many: share(predicted.many), medium: share(predicted.medium), few: share(predicted.few) },
    };
  });
  prior.dispose();
  return { logitScale, rows };
}
