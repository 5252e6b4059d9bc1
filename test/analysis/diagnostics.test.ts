// Feature diagnostics against cases whose answers are known, and the classifier Hessian against autograd.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  classWeightNorms,
  classifierHessian,
  classifierHessianCondition,
  conditionNumber,
  correlationMatrix,
  covariance,
  describeFeatures,
  effectiveRank,
  gaussianEntropy,
  gradientCoupling,
  meanAbsOffDiagonal,
} from '../../src/analysis/diagnostics.js';
import { torch } from '../../src/index.js';

const f64 = (data: number[][]) => torch.tensor(data, { dtype: 'float64' });

/** Features with exactly identity covariance: random rows, centred and whitened by S^-1/2. */
function whiteFeatures(n: number, d: number): torch.Tensor {
  torch.manualSeed(5);
  const x = torch.randn([n, d], { dtype: 'float64' });
  const centred = x.sub(x.mean({ dim: 0, keepdim: true }));
  const { eigenvalues, eigenvectors } = torch.linalg.eigh(covariance(centred));
  return centred.mm(eigenvectors.mul(eigenvalues.rsqrt().unsqueeze(0)).mm(eigenvectors.t()));
}

test('correlation: collapsed channels give 1, whitened ones 0, a dead channel 0', () => {
  torch.manualSeed(2);
  const t = torch.randn([200, 1], { dtype: 'float64' });
  const collapsed = torch.cat([t, t.mul(2), t.mul(-3)], 1);
  assert.ok(Math.abs(meanAbsOffDiagonal(correlationMatrix(collapsed)) - 1) < 1e-12);
  assert.ok(meanAbsOffDiagonal(correlationMatrix(whiteFeatures(100, 4))) < 1e-12);
  const dead = torch.cat([t, torch.zeros([200, 1], { dtype: 'float64' })], 1);
  assert.ok(
    correlationMatrix(dead).allclose(
      f64([
        [1, 0],
        [0, 0],
      ]),
      0,
      1e-12,
    ),
  );
});

test('effective rank, Gaussian entropy and condition number on known spectra', () => {
  assert.equal(effectiveRank([2, 2, 2, 2]), 4);
  assert.equal(effectiveRank([3, 0, 0]), 1);
  const white = whiteFeatures(300, 5);
  assert.ok(Math.abs(gaussianEntropy(white) - 2.5 * Math.log(2 * Math.PI * Math.E)) < 1e-9);
  assert.ok(
    Math.abs(
      conditionNumber(
        f64([
          [4, 0],
          [0, 1],
        ]),
      ) - 4,
    ) < 1e-12,
  );
  assert.equal(
    conditionNumber(
      f64([
        [1, 1],
        [1, 1],
      ]),
    ),
    Infinity,
  );
  const summary = describeFeatures(white.to('float32'));
  assert.ok(Math.abs(summary.effectiveRank - 5) < 1e-4 && Math.abs(summary.covarianceCondition - 1) < 1e-4);
});

test('the classifier Hessian formula equals autograd second derivatives of the mean cross-entropy', () => {
  torch.manualSeed(9);
  const [n, c, d] = [7, 3, 4];
  const x = torch.randn([n, d], { dtype: 'float64' });
  const labels = torch.randint(0, c, [n]);
  const w = torch.randn([c, d], { dtype: 'float64', requiresGrad: true });
  const [gradient] = torch.grad(torch.nn.functional.crossEntropy(x.mm(w.t()), labels), w, { createGraph: true });
  const rows = Array.from({ length: c * d }, (_, k) =>
    torch.grad(gradient!.flatten().select(0, k), w, { retainGraph: true })[0]!.flatten(),
  );
  const autograd = torch.stack(rows);
  const probabilities = torch.noGrad(() => torch.softmax(x.mm(w.t()), 1));
  assert.ok(classifierHessian(x, probabilities).allclose(autograd, 1e-9, 1e-12));
  assert.ok(classifierHessian(x, probabilities, 3).allclose(autograd, 1e-9, 1e-12), 'summed in chunks of 3 samples');
  assert.ok(Number.isFinite(classifierHessianCondition(x, probabilities)));
});

test('gradient coupling: parallel class gradients give 1; weight norms are row norms', () => {
  // one feature direction: every class gradient is a multiple of the same vector
  const x = f64([
    [1, 2],
    [2, 4],
    [-1, -2],
  ]);
  const p = torch.softmax(
    f64([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]),
    1,
  );
  const labels = torch.tensor([0, 1, 2], { dtype: 'int64' });
  assert.ok(Math.abs(gradientCoupling(x, p, labels) - 1) < 1e-12);
  assert.deepEqual(
    classWeightNorms(
      f64([
        [3, 4],
        [0, 1],
      ]),
    ),
    [5, 1],
  );
});
