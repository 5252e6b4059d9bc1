// Pretrained backbones (src/models/pretrained.ts, src/torch/pth.ts): torchvision's ResNets with random weights and
// batch-norm statistics, written by Python's torch.save and as safetensors (test/python/pretrained_checkpoints.py),
// give torchvision's logits in scatter's models; wrapped, prefixed, strided and mixed-dtype checkpoints load; a
// 1000-class fc is replaced and said so; what does not fit, a forbidden global and a damaged file are one-line errors.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { zipSync } from 'fflate';

import { torch } from '../../src/index.js';
import { type ImageClassifier, createModel, loadPretrained } from '../../src/models/index.js';
import { assertClose } from '../helpers/compare.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';

const TOLERANCE = 1e-5;
const work = temporaryDir('pretrained');
// One thread: on two shared cores libtorch's threads wait for each other (a ResNet-50 forward took 3 s with two, 0.3 s
// with one).
torch.setNumThreads(1);

let written: Record<string, torch.Tensor> | undefined;
/** The Python half's files in `work` and its reference tensors, made once for the tests that use them. */
function reference(): Record<string, torch.Tensor> {
  if (written === undefined) {
    torch.manualSeed(7);
    torch.safetensors.saveFile({ images: torch.randn([2, 3, 64, 64]) }, path.join(work, 'input.safetensors'));
    runPython('pretrained_checkpoints.py', [path.join(work, 'input.safetensors'), work]);
    written = torch.safetensors.loadFile(path.join(work, 'reference.safetensors')).tensors;
  }
  return written;
}

const input = (): torch.Tensor => torch.safetensors.loadFile(path.join(work, 'input.safetensors')).tensors.images!;

/** The model loaded from `file`, and what loadPretrained said. */
function loaded(name: string, numClasses: number, file: string): { model: ImageClassifier; notes: string[] } {
  const notes: string[] = [];
  const model = createModel(name, { numClasses });
  loadPretrained(model, file, (line) => notes.push(line));
  return { model: model.eval(), notes };
}

function logits(model: ImageClassifier, x: torch.Tensor): torch.Tensor {
  return torch.noGrad(() => model.call(x));
}

test("ResNet-10, ResNet-50 and ResNeXt-50 from torchvision's state dicts (.pth and .safetensors) give torchvision's logits", (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const expected = reference();
  const x = input();
  for (const name of ['resnet10', 'resnet50', 'resnext50_32x4d']) {
    const [pth, safetensors] = ['pth', 'safetensors'].map((format) => loaded(name, 10, path.join(work, `${name}.${format}`)));
    assert.deepEqual([...pth!.notes, ...safetensors!.notes], [], `${name}: the classifier fits`);
    assertClose(logits(pth!.model, x), expected[`${name}.logits`], TOLERANCE, `${name}.pth evaluation-mode logits`);
    // The two formats give the same tensors, so the one forward pass speaks for both (a forward costs seconds here).
    const fromSafetensors = safetensors!.model.stateDict();
    for (const [key, tensor] of Object.entries(pth!.model.stateDict()))
      assertClose(fromSafetensors[key], tensor, 0, `${name}.safetensors ${key}`);
  }
});

test("a training script's checkpoint loads: wrapped in {'state_dict'}, 'module.' names, strided views, float16/bfloat16/float64", (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const expected = reference();
  const { model, notes } = loaded('resnet10', 10, path.join(work, 'wrapped.pth'));
  assert.deepEqual(notes, []);
  assertClose(logits(model, input()), expected['wrapped.logits'], TOLERANCE, 'wrapped.pth logits');
});

test('a 1000-class fc into a 10-class model: the backbone loads, the classifier starts from scratch, and it is said', (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const expected = reference();
  torch.manualSeed(3);
  const model = createModel('resnet10', { numClasses: 10 });
  const fresh = model.classifier.stateDict();
  const notes: string[] = [];
  loadPretrained(model, path.join(work, 'imagenet.pth'), (line) => notes.push(line));
  assert.deepEqual(notes, ['pretrained: fc.weight is 1000x512, the model has 10 classes: the classifier starts from scratch']);
  model.eval();
  assertClose(
    torch.noGrad(() => model.features(input())),
    expected['resnet10.features'],
    TOLERANCE,
    'pooled features of the loaded backbone',
  );
  for (const [name, tensor] of Object.entries(model.classifier.stateDict()))
    assertClose(tensor, fresh[name], 0, `fresh classifier ${name}`);
});

/** A scatter ResNet-10's state dict, changed by `edit`, written as safetensors; the error loading it gives. */
function loadError(edit: (state: Record<string, torch.Tensor>) => void, into = 'resnet10'): string {
  const state = createModel('resnet10', { numClasses: 10 }).stateDict();
  edit(state);
  const file = path.join(work, 'edited.safetensors');
  torch.safetensors.saveFile(state, file);
  try {
    loadPretrained(createModel(into, { numClasses: 10 }), file, () => {});
  } catch (error) {
    const message = (error as Error).message;
    assert.equal(message.split('\n').length, 1, message);
    assert.ok(message.includes(file), message);
    return message;
  }
  return assert.fail(`${into} loaded the edited state dict`);
}

test('what does not fit is an error naming it: a shape (both shapes), missing and unexpected tensors, another model', () => {
  assert.match(
    loadError((state) => {
      state['layer2.0.conv1.weight'] = torch.zeros([128, 32, 3, 3]);
    }),
    /layer2\.0\.conv1\.weight is 128x32x3x3 in the file, 128x64x3x3 in the model/,
  );
  const keys = loadError((state) => {
    delete state['layer4.0.bn2.running_var'];
    state['layer5.0.conv1.weight'] = torch.zeros([1]);
  });
  assert.match(keys, /lacks 1 of the model's tensors \(layer4\.0\.bn2\.running_var\)/);
  assert.match(keys, /the model has no layer5\.0\.conv1\.weight/);
  assert.match(
    loadError(() => {}, 'resnet32'),
    /does not fit the model: the file lacks \d+ of the model's tensors \(layer1\.1\.conv1\.weight/,
  );
});

test("'module.' names and state dicts without num_batches_tracked (torchvision's first weights) load", () => {
  torch.manualSeed(4);
  const source = createModel('resnet10', { numClasses: 10 });
  const state = Object.fromEntries(
    Object.entries(source.stateDict())
      .filter(([name]) => !name.endsWith('num_batches_tracked'))
      .map(([name, tensor]) => [`module.${name}`, tensor]),
  );
  const file = path.join(work, 'prefixed.safetensors');
  torch.safetensors.saveFile(state, file);
  const { model, notes } = loaded('resnet10', 10, file);
  assert.deepEqual(notes, []);
  const x = torch.randn([1, 3, 32, 32]);
  assertClose(logits(model, x), logits(source.eval(), x), 0, 'logits of the copied weights');
});

/** A zip as torch.save lays it out, with the given data.pkl. */
function torchZip(file: string, pickle: Uint8Array): void {
  writeFileSync(file, zipSync({ 'archive/data.pkl': pickle, 'archive/version': new TextEncoder().encode('3\n') }, { level: 0 }));
}

test('a pickle naming a forbidden global (os.system) is refused without running it', () => {
  const marker = path.join(work, 'ran');
  const command = Buffer.from(`touch ${marker}`, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(command.length);
  // {'x': os.system('touch MARKER')} at protocol 2
  const pickle = Buffer.concat([
    Buffer.from('\x80\x02}q\x00X\x01\x00\x00\x00xcos\nsystem\nq\x01X', 'latin1'),
    length,
    command,
    Buffer.from('\x85Rs.', 'latin1'),
  ]);
  const file = path.join(work, 'evil.pth');
  torchZip(file, pickle);
  assert.throws(
    () => loadPretrained(createModel('resnet10', { numClasses: 10 }), file, () => {}),
    (error: Error) =>
      /evil\.pth: unreadable pickle: refers to os\.system \(only dicts, lists, numbers, strings and tensors/.test(error.message),
  );
  assert.ok(!existsSync(marker), 'the command never ran');
});

test('a missing, truncated, legacy or foreign file is a one-line error naming it', () => {
  const model = createModel('resnet10', { numClasses: 10 });
  const refused = (file: string, pattern: RegExp) =>
    assert.throws(
      () => loadPretrained(model, file, () => {}),
      (error: Error) => pattern.test(error.message) && error.message.includes(file) && !error.message.includes('\n'),
    );
  refused(path.join(work, 'nowhere.pth'), /cannot read .*nowhere\.pth \(ENOENT\)/);
  const safetensors = path.join(work, 'whole.safetensors');
  torch.safetensors.saveFile(model.stateDict(), safetensors);
  const truncated = path.join(work, 'truncated.safetensors');
  writeFileSync(truncated, readFileSync(safetensors).subarray(0, 100_000));
  refused(truncated, /not a valid safetensors file/);
  const zip = path.join(work, 'empty.pth');
  torchZip(zip, Buffer.from('\x80\x02}q\x00.', 'latin1'));
  const truncatedZip = path.join(work, 'truncated.pth');
  writeFileSync(truncatedZip, readFileSync(zip).subarray(0, 60));
  refused(truncatedZip, /not a readable PyTorch zip file/);
  refused(zip, /holds no state dict/);
  const legacy = path.join(work, 'legacy.pth');
  writeFileSync(legacy, Buffer.from('\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.', 'latin1'));
  refused(legacy, /legacy format \(PyTorch before 1\.6\)/);
});
