// The model registry: parameter counts equal torchvision's and LDAM-DRW's, every model maps images to
// features and logits, and the classifier and the neck can be replaced.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { CifarResNet, ImageClassifier, MODEL_NAMES, createModel } from '../../src/models/index.js';

type Tensor = torch.Tensor;

// torchvision's counts for 1,000 classes (its documentation's "num_params"); ResNet-10 is ResNet-18 less
// one basic block per stage (11,689,512 - 6,270,720); ResNet-32 is LDAM-DRW's 0.46M with 10 classes.
const EXPECTED = [
  { name: 'resnet32', numClasses: 10, parameters: 464_154, featureDim: 64, size: 32 },
  { name: 'resnet10', numClasses: 1000, parameters: 5_418_792, featureDim: 512, size: 64 },
  { name: 'resnet50', numClasses: 1000, parameters: 25_557_032, featureDim: 2048, size: 64 },
  { name: 'resnext50_32x4d', numClasses: 1000, parameters: 25_028_904, featureDim: 2048, size: 64 },
];

test("the registry builds every model with upstream's parameter count, features and logits", () => {
  assert.deepEqual([...MODEL_NAMES].sort(), EXPECTED.map((e) => e.name).sort());
  torch.manualSeed(0);
  for (const { name, numClasses, parameters, featureDim, size } of EXPECTED) {
    const model = createModel(name, { numClasses }).eval();
    assert.equal(model.numParameters(), parameters, `${name}: parameters`);
    assert.equal(model.featureDim, featureDim);
    const x = torch.randn([1, 3, size, size]);
    const { features, logits } = torch.noGrad(() => ({ features: model.features(x), logits: model.call(x) }));
    assert.deepEqual(features.shape, [1, featureDim], `${name}: features`);
    assert.deepEqual(logits.shape, [1, numClasses], `${name}: logits`);
    const viaHead = torch.noGrad(() => model.classifier.call(features));
    assert.ok(viaHead.allclose(logits, 1e-5, 1e-6), `${name}: forward = classifier(features)`);
  }
});

test("state-dict names are upstream's: torchvision's downsample and fc, LDAM-DRW's linear", () => {
  const resnet50 = createModel('resnet50', { numClasses: 7 });
  const names = new Map([...resnet50.namedParameters()].map(([name, tensor]) => [name, tensor.shape]));
  assert.deepEqual(names.get('conv1.weight'), [64, 3, 7, 7]);
  assert.deepEqual(names.get('layer1.0.downsample.0.weight'), [256, 64, 1, 1]);
  assert.deepEqual(names.get('layer4.2.conv3.weight'), [2048, 512, 1, 1]);
  assert.deepEqual(names.get('fc.weight'), [7, 2048]);
  assert.ok(!names.has('layer1.1.downsample.0.weight'));
  const resnext = createModel('resnext50_32x4d', { numClasses: 7 });
  assert.deepEqual(resnext.getParameter('layer1.0.conv2.weight').shape, [128, 4, 3, 3], '32 groups of 4 channels');
  const resnet32 = createModel('resnet32', { numClasses: 10 });
  assert.deepEqual(resnet32.getParameter('linear.weight').shape, [10, 64]);
  assert.deepEqual(resnet32.getParameter('layer3.4.conv2.weight').shape, [64, 64, 3, 3]);
  assert.ok(!resnet32.namedParameters().has('layer2.0.downsample.0.weight'), 'option A: no shortcut parameters');
});

test('the cosine classifier option gives scaled cosines', () => {
  const model = createModel('resnet32', { numClasses: 5, classifier: 'cosine', cosineScale: 30 });
  assert.ok(model.classifier instanceof nn.CosineLinear);
  assert.deepEqual(model.getParameter('linear.weight').shape, [64, 5]);
  const logits = torch.noGrad(() => model.call(torch.randn([3, 3, 32, 32])));
  assert.ok(logits.abs().max().item() <= 30 + 1e-4);
  assert.throws(() => createModel('resnet32', { numClasses: 5, classifier: 'mlp' as 'linear' }), /unknown classifier 'mlp'/);
});

test('a neck goes between features and classifier; the classifier can be replaced', () => {
  class Halve extends nn.Module {
    forward(input: Tensor): Tensor {
      return input.mul(0.5);
    }
  }
  torch.manualSeed(1);
  const model = new CifarResNet({ numClasses: 3, depth: 20 }).eval();
  assert.equal(model.numParameters(), 269_722 - 7 * (64 + 1), 'ResNet-20 (269,722 with 10 classes), 3 classes');
  const x = torch.randn([2, 3, 32, 32]);
  const features = torch.noGrad(() => model.features(x));
  model.neck = new Halve();
  const halved = torch.noGrad(() => model.call(x));
  assert.ok(
    halved.allclose(
      torch.noGrad(() => model.classifier.call(features.mul(0.5))),
      1e-5,
      1e-6,
    ),
  );

  model.classifier = new nn.Linear(64, 9);
  assert.deepEqual(torch.noGrad(() => model.call(x)).shape, [2, 9]);
  assert.deepEqual(model.getParameter('linear.weight').shape, [9, 64], "the new classifier takes the old one's name");
  assert.ok(model instanceof ImageClassifier);
});

test('bad names, class counts, depths and inputs are refused clearly', () => {
  assert.throws(
    () => createModel('resnet18', { numClasses: 10 }),
    /unknown model 'resnet18' \(known: resnet32, resnet10, resnet50, resnext50_32x4d\)/,
  );
  assert.throws(() => createModel('resnet32', { numClasses: 0 }), /numClasses must be a positive integer, got 0/);
  assert.throws(() => new CifarResNet({ numClasses: 10, depth: 33 }), /depth must be 6n \+ 2/);
  const model = createModel('resnet32', { numClasses: 10 });
  assert.throws(() => model.call(torch.zeros([2, 1, 32, 32])), /expected input of shape \(N, 3, H, W\), got \[2, 1, 32, 32\]/);
});
