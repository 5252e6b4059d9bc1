// CIFAR-10 and CIFAR-100 in both official layouts, read into one shared uint8 buffer:
// - binary (cifar-10-batches-bin, cifar-100-binary): fixed records of label byte(s) + 3072 pixel bytes
//   (1024 R, 1024 G, 1024 B, each row-major 32x32); CIFAR-100 records carry a coarse then a fine label;
// - python (cifar-10-batches-py, cifar-100-python): pickled dicts with 'data' (N x 3072 uint8, the same
//   pixel order) and 'labels' / 'fine_labels'.
// CIFAR-100 uses the fine labels (100 classes), as the long-tail benchmarks do.
import path from 'node:path';

import { InMemoryDataset, sharedBytes } from './dataset.js';
import { assertDirectory, isFile, readBytes, readLines } from './io.js';
import { NdArray, pickledText, unpickle } from './pickle.js';

export type CifarVariant = 'cifar10' | 'cifar100';
export type Split = 'train' | 'test';

const SHAPE = [3, 32, 32] as const;
const PIXELS = 3 * 32 * 32;

const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const CIFAR100_CLASSES = (
  'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can castle ' +
  'caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant flatfish ' +
  'forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle ' +
  'mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine ' +
  'possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar ' +
  'sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale ' +
  'willow_tree wolf woman worm'
).split(' ');

interface Layout {
  title: string;
  classes: string[];
  binary: { files: Record<Split, string[]>; labelBytes: number; labelOffset: number; meta: string };
  python: { files: Record<Split, string[]>; labelKey: string; meta: string; metaKey: string };
}

const LAYOUTS: Record<CifarVariant, Layout> = {
  cifar10: {
    title: 'CIFAR-10',
    classes: CIFAR10_CLASSES,
    binary: {
      files: { train: [1, 2, 3, 4, 5].map((b) => `data_batch_${b}.bin`), test: ['test_batch.bin'] },
      labelBytes: 1,
      labelOffset: 0,
      meta: 'batches.meta.txt',
    },
    python: {
      files: { train: [1, 2, 3, 4, 5].map((b) => `data_batch_${b}`), test: ['test_batch'] },
      labelKey: 'labels',
      meta: 'batches.meta',
      metaKey: 'label_names',
    },
  },
  cifar100: {
    title: 'CIFAR-100',
    classes: CIFAR100_CLASSES,
    binary: { files: { train: ['train.bin'], test: ['test.bin'] }, labelBytes: 2, labelOffset: 1, meta: 'fine_label_names.txt' },
    python: { files: { train: ['train'], test: ['test'] }, labelKey: 'fine_labels', meta: 'meta', metaKey: 'fine_label_names' },
  },
};

interface Part {
  count: number;
  copyInto(images: Uint8Array, labels: Int32Array, first: number): void;
}

function checkLabel(label: number, classes: number, file: string, record: number): number {
  if (label < 0 || label >= classes) throw new Error(`${file}: record ${record} has label ${label}, outside 0..${classes - 1}`);
  return label;
}

function binaryPart(file: string, layout: Layout): Part {
  const bytes = readBytes(file);
  const { labelBytes, labelOffset } = layout.binary;
  const recordSize = labelBytes + PIXELS;
  if (bytes.length === 0 || bytes.length % recordSize !== 0) {
    throw new Error(
      `${file}: truncated or not ${layout.title} binary: ${bytes.length} bytes is not a whole number of ${recordSize}-byte records`,
    );
  }
  return {
    count: bytes.length / recordSize,
    copyInto(images, labels, first) {
      for (let r = 0; r * recordSize < bytes.length; r++) {
        const start = r * recordSize;
        labels[first + r] = checkLabel(bytes[start + labelOffset]!, layout.classes.length, file, r);
        images.set(bytes.subarray(start + labelBytes, start + recordSize), (first + r) * PIXELS);
      }
    },
  };
}

function pythonPart(file: string, layout: Layout): Part {
  const batch = unpickle(readBytes(file), file);
  const { labelKey } = layout.python;
  const data = batch instanceof Map ? batch.get('data') : undefined;
  const labels = batch instanceof Map ? batch.get(labelKey) : undefined;
  if (!(data instanceof NdArray) || data.dtype !== 'u1' || data.shape.length !== 2 || data.shape[1] !== PIXELS) {
    throw new Error(`${file}: not a ${layout.title} python batch: no 'data' uint8 array of shape N x ${PIXELS}`);
  }
  const count = data.shape[0]!;
  if (data.data.length !== count * PIXELS) {
    throw new Error(`${file}: truncated: 'data' holds ${data.data.length} bytes, its shape needs ${count * PIXELS}`);
  }
  if (!Array.isArray(labels) || labels.length !== count || !labels.every((label) => Number.isInteger(label))) {
    throw new Error(`${file}: not a ${layout.title} python batch: '${labelKey}' is not a list of ${count} integers`);
  }
  return {
    count,
    copyInto(images, out, first) {
      images.set(data.data, first * PIXELS);
      labels.forEach((label: number, r) => {
        out[first + r] = checkLabel(label, layout.classes.length, file, r);
      });
    },
  };
}

function classNames(root: string, layout: Layout, format: 'binary' | 'python'): string[] {
  const metaFile = path.join(root, layout[format].meta);
  if (!isFile(metaFile)) return layout.classes;
  let names: string[] | undefined;
  if (format === 'binary') {
    names = readLines(metaFile);
  } else {
    const meta = unpickle(readBytes(metaFile), metaFile);
    const list = meta instanceof Map ? meta.get(layout.python.metaKey) : undefined;
    names = Array.isArray(list) ? list.map((name) => pickledText(name) ?? '') : undefined;
  }
  if (names?.length !== layout.classes.length) {
    throw new Error(`${metaFile}: expected ${layout.classes.length} class names, found ${names?.length ?? 'none'}`);
  }
  return names;
}

/**
 * CIFAR-10 or CIFAR-100 from `root` (the folder the archive unpacks to), binary layout if its files are
 * there, else the python layout.
 */
export function loadCifar(root: string, options: { variant: CifarVariant; split: Split }): InMemoryDataset {
  assertDirectory(root);
  const layout = LAYOUTS[options.variant];
  const format = (['binary', 'python'] as const).find((kind) => isFile(path.join(root, layout[kind].files[options.split][0]!)));
  if (format === undefined) {
    const expected = [layout.binary.files[options.split][0], layout.python.files[options.split][0]].join(' or ');
    throw new Error(`${root}: no ${layout.title} ${options.split} files (expected ${expected})`);
  }
  const read = format === 'binary' ? binaryPart : pythonPart;
  const parts = layout[format].files[options.split].map((name) => read(path.join(root, name), layout));
  const total = parts.reduce((sum, part) => sum + part.count, 0);
  const images = sharedBytes(total * PIXELS);
  const labels = new Int32Array(total);
  let first = 0;
  for (const part of parts) {
    part.copyInto(images, labels, first);
    first += part.count;
  }
  return new InMemoryDataset(images, SHAPE, labels, classNames(root, layout, format));
}
