// model.pretrained in a run: it seeds a new run's model (the backbone, not a classifier for other classes) and the
// run's environment record names the file and its sha256; a run resumed from its own checkpoint does not read it
// again; a missing or corrupt file is a one-line error from the CLI that leaves no run directory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { createModel } from '../../src/models/index.js';
import { resume } from '../../src/train/commands.js';
import { assertClose } from '../helpers/compare.js';
import { repoRoot, temporaryDir } from '../helpers/python.js';
import { trainTinyRun, writeTinyCifar } from '../helpers/runs.js';

const work = temporaryDir('pretrained-run');
const dataRoot = writeTinyCifar(work);

function environmentRecords(run: string): Record<string, unknown>[] {
  return readFileSync(path.join(run, 'environment.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

test('model.pretrained seeds a new run and is recorded with its sha256; a resumed run keeps its own weights', async () => {
  torch.manualSeed(11);
  // A ResNet-32 for 7 classes: its backbone fits the 10-class run, its classifier does not.
  const source = createModel('resnet32', { numClasses: 7 });
  const file = path.join(work, 'resnet32-7.safetensors');
  torch.safetensors.saveFile(source.stateDict(), file);
  const out = path.join(work, 'run');
  // lr 0: the weights the run ends with are those it started from.
  await trainTinyRun(out, dataRoot, { model: { pretrained: file }, train: { epochs: 1 }, optim: { lr: 0 } });

  const { tensors } = torch.safetensors.loadFile(path.join(out, 'checkpoints', 'last.safetensors'));
  for (const [name, parameter] of source.namedParameters()) {
    if (name.startsWith('linear.')) continue;
    assertClose(tensors[`model.${name}`], parameter, 0, `${name} from the pretrained file`);
  }
  assert.deepEqual(tensors['model.linear.weight']!.shape, [10, 64], 'a fresh 10-class classifier');
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  assert.deepEqual(environmentRecords(out)[0]!.pretrained, { file, sha256 });
  assert.match(readFileSync(path.join(out, 'config.yaml'), 'utf8'), new RegExp(`pretrained: ${file}`));

  // Resuming reads the run's own checkpoint: with the pretrained file gone, it still resumes.
  rmSync(file);
  await resume(out, { verbose: false });
  const records = environmentRecords(out);
  assert.equal(records.length, 2);
  assert.equal(records[1]!.pretrained, undefined, 'the resumed process started from no pretrained file');
});

test('a missing or corrupt model.pretrained: one line on stderr, exit 1, no run directory', () => {
  const config = path.join(work, 'tiny.yaml');
  writeFileSync(config, `data: { dataset: cifar10, root: ${dataRoot}, workers: 0 }\ntrain: { epochs: 1, threads: 1 }\n`);
  const corrupt = path.join(work, 'corrupt.pth');
  writeFileSync(corrupt, Buffer.from('not a checkpoint at all, just text'));
  const cases: [string, RegExp][] = [
    [path.join(work, 'nowhere.pth'), /^scatter: model\.pretrained: cannot read .*nowhere\.pth \(ENOENT\)\n$/],
    [corrupt, /^scatter: model\.pretrained: .*corrupt\.pth: not a valid safetensors file: /],
  ];
  for (const [file, pattern] of cases) {
    const out = path.join(work, `refused-${path.basename(file)}`);
    const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
    const result = spawnSync(process.execPath, [cli, 'train', '--config', config, '--set', `model.pretrained=${file}`, '--out', out], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, pattern);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.ok(!existsSync(out), 'a refused run leaves no run directory');
  }
});
