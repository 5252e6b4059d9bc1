// The ONNX export (src/export/onnx.ts) run in onnxruntime-node: every model of the registry, with each neck and
// classifier kind and random batch-norm and whitening statistics (so that folding them is tested, not skipped),
// gives scatter's logits, embedding and scores to 1e-4; a trained run exported by `scatter export` too; a layer the
// export does not know is named.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import ort from 'onnxruntime-node';

import { exportOnnx } from '../../src/export/onnx.js';
import { loadClassifier, torch } from '../../src/index.js';
import { ChannelWhitening, createNeck, decoupleClassifier } from '../../src/longtail/index.js';
import { type ImageClassifier, createModel } from '../../src/models/index.js';
import { BatchNorm1d, BatchNorm2d, Module } from '../../src/nn/index.js';
import { temporaryDir } from '../helpers/python.js';
import { exportRun, trainTinyRun, writeTinyCifar } from '../helpers/runs.js';

type Tensor = torch.Tensor;

/** Random running statistics and affine parameters for every batch norm, and a random whitening matrix. */
function randomiseStatistics(model: ImageClassifier): void {
  torch.noGrad(() => {
    for (const module of model.namedModules().values()) {
      if (module instanceof BatchNorm2d || module instanceof BatchNorm1d) {
        module.runningMean?.copy_(torch.randn(module.runningMean.shape).mul(0.1));
        module.runningVar?.copy_(torch.rand(module.runningVar.shape).add(0.5));
        module.weight?.copy_(torch.rand(module.weight.shape).add(0.5));
        module.bias?.copy_(torch.randn(module.bias.shape).mul(0.1));
      }
      if (module instanceof ChannelWhitening) {
        module.runningMean.copy_(torch.randn(module.runningMean.shape));
        const blocks = torch.randn(module.runningWhitening.shape).mul(0.2);
        module.runningWhitening.copy_(blocks.add(blocks.transpose(1, 2)).add(torch.eye(module.groupSize)));
        module.weight?.copy_(torch.rand(module.weight.shape).add(0.5));
        module.bias?.copy_(torch.randn(module.bias.shape));
      }
    }
  });
}

async function runOnnx(bytes: Uint8Array, images: Tensor): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes);
  const input = new ort.Tensor('float32', images.contiguous().toTypedArray() as Float32Array, images.shape);
  const outputs = await session.run({ images: input });
  return Object.fromEntries(Object.entries(outputs).map(([name, value]) => [name, value.data as Float32Array]));
}

function assertClose(actual: Float32Array, expected: Tensor, what: string): void {
  const reference = expected.contiguous().toTypedArray() as Float32Array;
  assert.equal(actual.length, reference.length, `${what}: size`);
  const scale = Math.max(1, ...Array.from(reference, Math.abs));
  const worst = actual.reduce((max, value, i) => Math.max(max, Math.abs(value - reference[i]!)), 0);
  assert.ok(worst <= 1e-4 * scale, `${what}: largest difference ${worst} (scale ${scale})`);
}

const CASES = [
  { name: 'resnet32', size: 32, neck: 'whitening', classifier: 'linear', neckOptions: { groupSize: 16, affine: true } },
  { name: 'resnet32', size: 32, neck: 'batchnorm', classifier: 'cosine', neckOptions: { affine: true } },
  { name: 'resnet32', size: 32, neck: 'identity', classifier: 'linear', decoupled: 'tau-norm' },
  { name: 'resnet32', size: 32, neck: 'whitening', classifier: 'cosine', decoupled: 'lws', inChannels: 1 },
  { name: 'resnet10', size: 64, neck: 'whitening', classifier: 'linear' },
  { name: 'resnet50', size: 64, neck: 'identity', classifier: 'cosine' },
  { name: 'resnext50_32x4d', size: 64, neck: 'whitening', classifier: 'linear' },
] as const;

for (const spec of CASES) {
  const what = `${spec.name} (${spec.neck} neck, ${spec.classifier}${'decoupled' in spec ? `, ${spec.decoupled}` : ''})`;
  test(`ONNX export of ${what} equals scatter in onnxruntime`, async () => {
    torch.manualSeed(7);
    const inChannels = 'inChannels' in spec ? spec.inChannels : 3;
    const model = createModel(spec.name, { numClasses: 7, classifier: spec.classifier, inChannels });
    if (spec.neck !== 'identity') model.neck = createNeck(spec.neck, model.featureDim, 'neckOptions' in spec ? spec.neckOptions : {});
    if ('decoupled' in spec) decoupleClassifier(model, spec.decoupled, { keepBias: true });
    randomiseStatistics(model);
    if ('decoupled' in spec && spec.decoupled === 'lws')
      torch.noGrad(() => (model.classifier as Module).getParameter('scales').copy_(torch.rand([7]).add(0.5)));
    if ('decoupled' in spec && spec.decoupled === 'tau-norm') (model.classifier as unknown as { tau: number }).tau = 0.7;
    model.eval();
    const images = torch.randn([3, inChannels, spec.size, spec.size]);
    const offsets = torch.randn([7]);
    const bytes = exportOnnx(model, { inChannels, scoreOffsets: offsets, metadata: { classNames: '[]' } });
    const outputs = await runOnnx(bytes, images);
    const { embedding, logits } = torch.noGrad(() => {
      const features = model.features(images);
      const necked = model.neck.call(features);
      return { embedding: necked, logits: model.classifier.call(necked) };
    });
    assertClose(outputs.embedding!, embedding, 'embedding');
    assertClose(outputs.logits!, logits, 'logits');
    assertClose(outputs.scores!, logits.add(offsets), 'scores');
  });
}

test('a layer the export does not know is named', () => {
  const model = createModel('resnet32', { numClasses: 3 });
  class Mystery extends Module {
    forward(input: Tensor): Tensor {
      return input;
    }
  }
  model.neck = new Mystery();
  assert.throws(
    () => exportOnnx(model, { inChannels: 3 }),
    /^Error: export: the neck is a Mystery, which the ONNX export does not support$/,
  );
});

test('scatter export --format onnx: the trained run in onnxruntime gives the probabilities that predict gives', async () => {
  const work = temporaryDir('onnx');
  const run = await trainTinyRun(path.join(work, 'run'), writeTinyCifar(work), {
    model: { neck: 'whitening' },
    loss: { name: 'ce', posthocTau: 1 },
  });
  const file = path.join(work, 'model.onnx');
  const result = exportRun(run, 'onnx', file);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stderr, /^scatter: exported .*last\.safetensors \(epoch 2\) to .*model\.onnx \(opset 17/m);
  const classifier = await loadClassifier(run, { checkpoint: 'last' });
  const images = torch.randn([4, 3, 32, 32]);
  const outputs = await runOnnx(readFileSync(file), images);
  const rows = Array.from({ length: 4 }, (_, i) => images.select(0, i));
  const predictions = await classifier.predict(rows, { topK: 10 });
  const scores = torch.softmax(torch.fromTypedArray(outputs.scores!, { shape: [4, 10] }), 1).tolist() as number[][];
  predictions.forEach(({ top }, i) => {
    for (const { label, probability } of top) assert.ok(Math.abs(scores[i]![label]! - probability) < 1e-4, `image ${i}, class ${label}`);
  });
  const session = await ort.InferenceSession.create(readFileSync(file));
  assert.deepEqual(session.inputNames, ['images']);
  assert.deepEqual([...session.outputNames].sort(), ['embedding', 'logits', 'scores']);
  classifier.dispose();
});
