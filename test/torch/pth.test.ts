// torch.save's zip files read by torch.pth (test/python/pth_files.py writes them with Python's torch): every dtype,
// strided views and shared storages as Python saved them, the Python values around the tensors; a storage that is
// missing or short is an error naming the file and the storage.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';

import { torch } from '../../src/index.js';
import { pythonTorchMissing, runPython, temporaryDir } from '../helpers/python.js';

test("torch.pth.loadFile reads what Python's torch.save wrote: dtypes, views, nested values; damaged storages are named", (t) => {
  const missing = pythonTorchMissing();
  if (missing) return t.skip(missing);
  const dir = temporaryDir('pth');
  runPython('pth_files.py', [dir]);
  const loaded = torch.pth.loadFile(path.join(dir, 'objects.pth'));
  assert.ok(loaded instanceof Map);
  const tensors = loaded.get('tensors') as Map<string, torch.Tensor>;
  const expected = torch.safetensors.loadFile(path.join(dir, 'expected.safetensors')).tensors;
  assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected).sort());
  for (const [name, tensor] of tensors) {
    assert.equal(tensor.dtype, expected[name]!.dtype, name);
    assert.deepEqual(tensor.shape, expected[name]!.shape, name);
    assert.deepEqual(tensor.toArray(), expected[name]!.toArray(), name);
  }
  assert.deepEqual(loaded.get('list'), [1, 2.5, null, true, 'text', [3, 4]]);
  assert.equal(loaded.get('big'), 2n ** 60n);
  assert.equal(loaded.get('negative'), -7);

  const refused = (file: string, pattern: RegExp) =>
    assert.throws(
      () => torch.pth.loadFile(path.join(dir, file)),
      (error: Error) => pattern.test(error.message) && error.message.includes(file),
    );
  refused('missing-storage.pth', /unreadable pickle: storage 0 is not in the zip/);
  refused('short-storage.pth', /unreadable pickle: storage 1 has \d+ bytes, \d+ float32 elements need \d+/);
});
