// PyTorch's .pth / .pt files as torch.save writes them since 1.6: a zip (entries stored, unzipped by fflate) of
// ARCHIVE/data.pkl, a protocol-2 pickle of the saved object, and ARCHIVE/data/KEY, the raw little-endian bytes
// of each storage the pickle names by a persistent id ('storage', torch.FloatStorage, KEY, location, numel).
// Like torch.load(weights_only=True), only the globals that dicts of tensors need are allowed (util/pickle.ts):
// nothing in the file is executed, and any other global is an error that names it.
import { readFileSync } from 'node:fs';

import { unzipSync } from 'fflate';

import { PickleGlobal, unpickle } from '../util/pickle.js';
import { type Dtype, bytesPerElement } from './dtype.js';
import { scope } from './memory.js';
import { native } from './native.js';
import { Tensor, op } from './tensor.js';

// torch.save names a storage by its legacy typed class, whatever the tensor's device was.
const STORAGE_DTYPES: Record<string, Dtype> = {
  'torch.FloatStorage': 'float32',
  'torch.DoubleStorage': 'float64',
  'torch.HalfStorage': 'float16',
  'torch.BFloat16Storage': 'bfloat16',
  'torch.LongStorage': 'int64',
  'torch.IntStorage': 'int32',
  'torch.ShortStorage': 'int16',
  'torch.CharStorage': 'int8',
  'torch.ByteStorage': 'uint8',
  'torch.BoolStorage': 'bool',
};

/** A storage of the file: its elements as a 1-D CPU tensor. */
class Storage {
  constructor(readonly elements: Tensor) {}
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function countList(value: unknown, what: string): number[] {
  if (!Array.isArray(value) || !value.every(isCount)) throw new Error(`${what} is not a tuple of sizes`);
  return value;
}

/**
 * torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]): the view of
 * the storage that was saved, strides and offset honoured, as a contiguous tensor of its own.
 */
function rebuildTensor(args: unknown[]): Tensor {
  const [storage, offset, sizeArg, strideArg] = args;
  if (!(storage instanceof Storage)) throw new Error('_rebuild_tensor_v2 without a storage');
  if (!isCount(offset)) throw new Error('_rebuild_tensor_v2 with a bad storage offset');
  const size = countList(sizeArg, '_rebuild_tensor_v2 size');
  const stride = countList(strideArg, '_rebuild_tensor_v2 stride');
  if (size.length !== stride.length) throw new Error(`tensor of ${size.length} sizes but ${stride.length} strides`);
  const available = storage.elements.shape[0]!;
  const last = size.some((n) => n === 0) ? -1 : size.reduce((end, n, i) => end + (n - 1) * stride[i]!, offset);
  if (last >= available) throw new Error(`tensor [${size.join(', ')}] at offset ${offset} runs past its storage of ${available} elements`);
  return op('as_strided', storage.elements, size, stride, offset).contiguous();
}

const TORCH_GLOBALS = {
  'collections.OrderedDict': (args: unknown[]): Map<unknown, unknown> => {
    if (args.length !== 0) throw new Error('OrderedDict with arguments');
    return new Map();
  },
  'torch._utils._rebuild_tensor_v2': rebuildTensor,
  // A saved nn.Parameter: (data, requires_grad, hooks); its data is what a state dict needs.
  'torch._utils._rebuild_parameter': (args: unknown[]): Tensor => {
    if (!(args[0] instanceof Tensor)) throw new Error('_rebuild_parameter without a tensor');
    return args[0];
  },
  ...Object.fromEntries(Object.keys(STORAGE_DTYPES).map((name) => [name, null])),
};

/** An OrderedDict's BUILD sets attributes (a state dict's _metadata: module versions), which nothing here needs. */
function build(target: unknown, state: unknown): void {
  if (!(target instanceof Map) || !(state === null || state instanceof Map)) throw new Error('BUILD of something but a dict');
}

/**
 * The object torch.save wrote to a zip file's bytes: dicts as Maps, lists and tuples as arrays, tensors as CPU
 * Tensors (contiguous; the caller disposes them). Errors name `source` and say what is wrong.
 */
export function load(bytes: Uint8Array, source: string): unknown {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (error) {
    throw new Error(`${source}: not a readable PyTorch zip file (${(error as Error).message}: truncated or not a zip)`);
  }
  const pickleName = Object.keys(entries).find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickleName === undefined) throw new Error(`${source}: a zip without ARCHIVE/data.pkl, not a file of torch.save`);
  const archive = pickleName.slice(0, -'data.pkl'.length);
  const byteOrder = entries[`${archive}byteorder`];
  if (byteOrder !== undefined && Buffer.from(byteOrder).toString('latin1') !== 'little') {
    throw new Error(`${source}: storages in ${Buffer.from(byteOrder).toString('latin1')}-endian byte order (only little-endian is read)`);
  }
  const storages = new Map<string, Storage>();
  const persistentLoad = (id: unknown): Storage => {
    if (!Array.isArray(id) || id.length !== 5 || id[0] !== 'storage') throw new Error('persistent id that is not a storage');
    const [, type, key, , numel] = id as unknown[];
    const dtype = type instanceof PickleGlobal ? STORAGE_DTYPES[type.name] : undefined;
    if (dtype === undefined || typeof key !== 'string' || !isCount(numel)) throw new Error('malformed storage id');
    const cached = storages.get(key);
    if (cached !== undefined) return cached;
    const data = entries[`${archive}data/${key}`];
    if (data === undefined) throw new Error(`storage ${key} is not in the zip (${archive}data/${key})`);
    const expected = numel * bytesPerElement(dtype);
    if (data.byteLength !== expected)
      throw new Error(`storage ${key} has ${data.byteLength} bytes, ${numel} ${dtype} elements need ${expected}`);
    const storage = new Storage(new Tensor(native.fromBuffer(data, [numel], dtype)));
    storages.set(key, storage);
    return storage;
  };
  // The storages and views are freed when the scope closes; the tensors of the returned object live on.
  return scope(() =>
    unpickle(entries[pickleName]!, source, {
      globals: TORCH_GLOBALS,
      build,
      persistentLoad,
      allowedWhat: 'dicts, lists, numbers, strings and tensors',
    }),
  );
}

/** `load` of a file; its errors name it. */
export function loadFile(file: string): unknown {
  return load(readFileSync(file), file);
}
