// Pretrained backbones: a torchvision or timm state dict (their ResNets name their tensors as scatter's do:
// conv1, bn1, layer1.0.conv1, ..., fc) loaded into a model from a .safetensors file or torch.save's zip (.pth,
// .pt). The backbone must fit exactly (every tensor present, same shapes; batch-norm running statistics
// included); the neck and the classifier are loaded where they fit whole and otherwise start from their fresh
// initialisation, which is said, so that ImageNet's 1000-class fc seeds a 10-class model's backbone.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as torch from '../torch/index.js';
import type { ImageClassifier } from './classifier.js';

type Tensor = torch.Tensor;

/** The file a model started from, as a run's environment record keeps it. */
export interface PretrainedSource {
  file: string;
  sha256: string;
}

// Where training scripts keep the weights in the dicts they save around them.
const WRAPPER_KEYS = ['state_dict', 'model'];
// How files start: a zip's local header (torch.save since 1.6), and the pickled magic number that opens torch.save's
// legacy format (protocol 2, LONG1 0x1950a86a20f9469cfc6c), which safetensors' 8-byte header length cannot spell
// in front of its JSON.
const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');
const LEGACY_TORCH_MAGIC = Buffer.from('\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19', 'latin1');

function formatShape(shape: readonly number[]): string {
  return shape.length === 0 ? 'a scalar' : shape.join('x');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((size, i) => size === b[i]);
}

/** The first few of `names`, for an error that stays one line. */
function someOf(names: readonly string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/** The dict of tensors in what torch.save wrote: the object itself or a training script's wrapper around it. */
function findStateDict(value: unknown, where: string): Map<string, Tensor> {
  if (!(value instanceof Map))
    throw new Error(`${where} holds no state dict (a dict of tensors), but a ${Array.isArray(value) ? 'list' : typeof value}`);
  const entries = [...value.entries()];
  if (entries.length > 0 && entries.every(([key, tensor]) => typeof key === 'string' && tensor instanceof torch.Tensor)) {
    return value as Map<string, Tensor>;
  }
  for (const key of WRAPPER_KEYS) {
    if (value.get(key) instanceof Map) return findStateDict(value.get(key), `${where}['${key}']`);
  }
  const keys = someOf(entries.map(([key]) => String(key)));
  throw new Error(
    `${where} holds no state dict: a dict of tensors, or one under ${WRAPPER_KEYS.map((k) => `'${k}'`).join(' or ')}, was expected; its keys: ${keys}`,
  );
}

/**
 * The tensors of a pretrained file by name, 'module.' (DataParallel's prefix) taken off, with the file's
 * sha256. The format is told by the bytes, not the name: a zip is torch.save's, anything else safetensors.
 */
export function readPretrained(file: string): { tensors: Map<string, Tensor>; sha256: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw new Error(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  let state: Map<string, Tensor>;
  if (bytes.subarray(0, ZIP_MAGIC.length).equals(ZIP_MAGIC)) {
    state = findStateDict(torch.pth.load(bytes, file), file);
  } else if (bytes.subarray(0, LEGACY_TORCH_MAGIC.length).equals(LEGACY_TORCH_MAGIC)) {
    throw new Error(`${file} is in torch.save's legacy format (PyTorch before 1.6): load it and save it again with a recent torch`);
  } else {
    state = new Map(Object.entries(torch.safetensors.deserialize(bytes, file).tensors));
  }
  const tensors = new Map<string, Tensor>();
  for (const [name, tensor] of state) tensors.set(name.startsWith('module.') ? name.slice('module.'.length) : name, tensor);
  return { tensors, sha256 };
}

/** Why a head part of the file does not fit the model's (the first difference), or null when it does. */
function headMismatch(fileTensors: Map<string, Tensor>, own: Map<string, Tensor>, isClassifier: boolean): string | null {
  for (const [name, tensor] of own) {
    const given = fileTensors.get(name);
    if (given === undefined) return `the file has no ${name}`;
    if (sameShape(given.shape, tensor.shape)) continue;
    // A classifier for another set of classes: the common case, said in its terms.
    if (isClassifier && given.shape.length === 2 && given.shape[1] === tensor.shape[1] && tensor.shape.length === 2) {
      return `${name} is ${formatShape(given.shape)}, the model has ${tensor.shape[0]} classes`;
    }
    return `${name} is ${formatShape(given.shape)}, the model's is ${formatShape(tensor.shape)}`;
  }
  const extra = [...fileTensors.keys()].find((name) => !own.has(name));
  return extra === undefined ? null : `the model has no ${extra}`;
}

/**
 * Loads a pretrained file's weights into `model` in place (dtypes converted to the model's) and returns the file
 * and its sha256. Errors (one line) name the file and the first problem: missing or unexpected backbone tensors,
 * a tensor of another shape. `note` hears that the classifier (or neck) starts from scratch, and why.
 */
export function loadPretrained(model: ImageClassifier, file: string, note: (line: string) => void): PretrainedSource {
  return torch.scope(() => {
    const { tensors, sha256 } = readPretrained(file);
    const own = new Map(Object.entries(model.stateDict()));
    const heads = [
      { what: 'classifier', prefix: `${model.classifierName}.` },
      { what: 'neck', prefix: 'neck.' },
    ];
    const headOf = (name: string) => heads.find((head) => name.startsWith(head.prefix));
    const ownBackbone = [...own.keys()].filter((name) => headOf(name) === undefined);
    // PyTorch's batch norm loads state dicts without num_batches_tracked (saved before 0.4.1, as torchvision's first
    // ImageNet weights were), leaving the count at 0: so does this.
    const missing = ownBackbone.filter((name) => !tensors.has(name) && !name.endsWith('.num_batches_tracked'));
    const unexpected = [...tensors.keys()].filter((name) => headOf(name) === undefined && !own.has(name));
    if (missing.length > 0 || unexpected.length > 0) {
      const parts = [
        missing.length > 0 ? `the file lacks ${missing.length} of the model's tensors (${someOf(missing)})` : '',
        unexpected.length > 0 ? `the model has no ${someOf(unexpected)} (${unexpected.length} unexpected tensors)` : '',
      ];
      throw new Error(`${file} does not fit the model: ${parts.filter((part) => part !== '').join('; ')}`);
    }
    const load = new Map<string, Tensor>();
    for (const name of ownBackbone) {
      const given = tensors.get(name);
      if (given === undefined) continue;
      const shape = own.get(name)!.shape;
      if (!sameShape(given.shape, shape)) {
        throw new Error(
          `${file} does not fit the model: ${name} is ${formatShape(given.shape)} in the file, ${formatShape(shape)} in the model`,
        );
      }
      load.set(name, given);
    }
    for (const { what, prefix } of heads) {
      const part = (map: Map<string, Tensor>) => new Map([...map].filter(([name]) => name.startsWith(prefix)));
      const [given, ours] = [part(tensors), part(own)];
      if (given.size === 0) {
        if (what === 'classifier') note(`pretrained: ${file} has no classifier (${prefix}*): the classifier starts from scratch`);
        continue;
      }
      const mismatch = headMismatch(given, ours, what === 'classifier');
      if (mismatch !== null) note(`pretrained: ${mismatch}: the ${what} starts from scratch`);
      else for (const [name, tensor] of given) load.set(name, tensor);
    }
    model.loadStateDict(load, { strict: false });
    return { file, sha256 };
  });
}
