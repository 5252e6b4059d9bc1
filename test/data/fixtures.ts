// Writers of the official file formats, so that the data tests read files they made themselves:
// CIFAR binary records, CIFAR python pickles (as Python 2's cPickle wrote the official ones), IDX files,
// image trees, tar.gz archives.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import sharp from 'sharp';

// dist/test/data -> the repository root -> its sibling shared/ (absent in a user's clone).
export const SHARED_DATASETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared', 'datasets');

/** Why a test that needs ../shared/datasets/NAME must skip, or false when it can run. */
export function sharedMissing(name: string): string | false {
  const dir = path.join(SHARED_DATASETS, name);
  return existsSync(dir) ? false : `${dir} is absent (a clone without ../shared): skipped`;
}

/** Deterministic pixels: record r's byte p. */
export function pixel(record: number, position: number): number {
  return (record * 31 + position * 7) % 256;
}

/** `labels.length` CIFAR-shaped records (3072 pixel bytes each) with pixel(record, p). */
export function cifarPixels(count: number, firstRecord = 0): Uint8Array {
  const data = new Uint8Array(count * 3072);
  for (let r = 0; r < count; r++) for (let p = 0; p < 3072; p++) data[r * 3072 + p] = pixel(firstRecord + r, p);
  return data;
}

/** CIFAR binary records: label byte(s) then 3072 pixel bytes. CIFAR-100 records get coarse label 19 - fine % 20. */
export function cifarBinary(labels: number[], variant: 'cifar10' | 'cifar100', firstRecord = 0): Buffer {
  const labelBytes = variant === 'cifar10' ? 1 : 2;
  const pixels = cifarPixels(labels.length, firstRecord);
  const out = Buffer.alloc(labels.length * (labelBytes + 3072));
  labels.forEach((label, r) => {
    const start = r * (labelBytes + 3072);
    if (variant === 'cifar100') out[start] = 19 - (label % 20);
    out[start + labelBytes - 1] = label;
    out.set(pixels.subarray(r * 3072, (r + 1) * 3072), start + labelBytes);
  });
  return out;
}

/** Protocol-2 pickle opcodes, emitted the way cPickle emitted the official CIFAR files. */
class PickleWriter {
  private readonly parts: Buffer[] = [Buffer.from([0x80, 2])];
  private memo = 0;

  private bytes(...values: number[]): void {
    this.parts.push(Buffer.from(values));
  }

  put(): void {
    this.bytes(0x71, ++this.memo); // BINPUT
  }

  str(text: string | Uint8Array): void {
    const data = typeof text === 'string' ? Buffer.from(text, 'latin1') : Buffer.from(text);
    if (data.length < 256) {
      this.bytes(0x55, data.length); // SHORT_BINSTRING
    } else {
      const length = Buffer.alloc(4);
      length.writeInt32LE(data.length);
      this.parts.push(Buffer.from([0x54]), length); // BINSTRING
    }
    this.parts.push(data);
  }

  int(value: number): void {
    if (value >= 0 && value < 256) {
      this.bytes(0x4b, value); // BININT1
      return;
    }
    if (value >= 0 && value < 65536) {
      this.bytes(0x4d, value & 0xff, value >> 8); // BININT2
      return;
    }
    const data = Buffer.alloc(4);
    data.writeInt32LE(value);
    this.parts.push(Buffer.from([0x4a]), data); // BININT
  }

  global(module: string, name: string): void {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    this.put();
  }

  op(code: string): void {
    this.parts.push(Buffer.from(code, 'latin1'));
  }

  /** A list, appended in batches of 1000 like pickle does. */
  list(items: (number | string)[]): void {
    this.op(']');
    this.put();
    for (let start = 0; start < items.length; start += 1000) {
      this.op('(');
      for (const item of items.slice(start, start + 1000)) {
        if (typeof item === 'number') this.int(item);
        else this.str(item);
      }
      this.op('e');
    }
  }

  /** numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') with BUILD state (1, shape, dtype('u1'), False, bytes). */
  uint8Array(shape: number[], data: Uint8Array): void {
    this.global('numpy.core.multiarray', '_reconstruct');
    this.global('numpy', 'ndarray');
    this.int(0);
    this.op('\x85');
    this.str('b');
    this.op('\x87R');
    this.put();
    this.op('(');
    this.int(1);
    for (const size of shape) this.int(size);
    this.op(shape.length === 2 ? '\x86' : 't');
    this.global('numpy', 'dtype');
    this.str('u1');
    this.int(0);
    this.int(1);
    this.op('\x87R');
    this.put();
    this.op('(');
    this.int(3);
    this.str('|');
    this.op('NNN');
    this.parts.push(Buffer.from([0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff]));
    this.int(0);
    this.op('tb\x89');
    this.str(data);
    this.op('tb');
  }

  dict(entries: [string, () => void][]): Buffer {
    this.op('}');
    this.put();
    this.op('(');
    for (const [key, write] of entries) {
      this.str(key);
      this.put();
      write();
    }
    this.op('u.');
    return Buffer.concat(this.parts);
  }
}

/** A CIFAR python batch as the official files have it: data, labels (or fine/coarse labels), batch_label, filenames. */
export function cifarPickle(labels: number[], variant: 'cifar10' | 'cifar100', firstRecord = 0): Buffer {
  const writer = new PickleWriter();
  const names = labels.map((_, r) => `image_${firstRecord + r}.png`);
  const labelEntries: [string, () => void][] =
    variant === 'cifar10'
      ? [['labels', () => writer.list(labels)]]
      : [
          ['fine_labels', () => writer.list(labels)],
          ['coarse_labels', () => writer.list(labels.map((label) => 19 - (label % 20)))],
        ];
  return writer.dict([
    ['data', () => writer.uint8Array([labels.length, 3072], cifarPixels(labels.length, firstRecord))],
    ...labelEntries,
    ['batch_label', () => writer.str('training batch 1 of 5')],
    ['filenames', () => writer.list(names)],
  ]);
}

/** A meta pickle: {key: names, ...}. */
export function metaPickle(key: string, names: string[]): Buffer {
  const writer = new PickleWriter();
  return writer.dict([
    [key, () => writer.list(names)],
    ['num_vis', () => writer.int(3072)],
  ]);
}

/** An IDX file of unsigned bytes. */
export function idx(dims: number[], data: Uint8Array, gzip: boolean): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((dim, d) => header.writeUInt32BE(dim, 4 + 4 * d));
  const bytes = Buffer.concat([header, data]);
  return gzip ? gzipSync(bytes) : bytes;
}

/** A solid-colour-plus-gradient RGB image, encoded; `tone` makes images differ. */
export async function encodedImage(width: number, height: number, tone: number, format: 'jpeg' | 'png' = 'jpeg'): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      raw[at] = tone;
      raw[at + 1] = Math.floor((255 * x) / Math.max(1, width - 1));
      raw[at + 2] = Math.floor((255 * y) / Math.max(1, height - 1));
    }
  }
  const image = sharp(raw, { raw: { width, height, channels: 3 } });
  return format === 'jpeg' ? image.jpeg({ quality: 95 }).toBuffer() : image.png().toBuffer();
}

/** root/<class>/<i>.jpg for each class's count; returns the relative paths with labels, in sorted order. */
export async function writeImageTree(
  root: string,
  classes: string[],
  counts: number[],
  size: [number, number] = [40, 30],
): Promise<{ file: string; label: number }[]> {
  const entries: { file: string; label: number }[] = [];
  for (const [label, name] of classes.entries()) {
    mkdirSync(path.join(root, name), { recursive: true });
    for (let i = 0; i < counts[label]!; i++) {
      const file = path.join(name, `${String(i).padStart(3, '0')}.jpg`);
      writeFileSync(path.join(root, file), await encodedImage(size[0], size[1], (label * 50 + i * 3) % 256));
      entries.push({ file, label });
    }
  }
  return entries;
}

/** A ustar archive of the given files (directories implied), gzipped. */
export function tarGz(files: Record<string, Uint8Array>): Buffer {
  const blocks: Buffer[] = [];
  const header = (name: string, size: number, type: string): Buffer => {
    const block = Buffer.alloc(512);
    block.write(name, 0, 100, 'utf8');
    block.write('0000644\0', 100);
    block.write('0000000\0', 108);
    block.write('0000000\0', 116);
    block.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
    block.write('00000000000\0', 136);
    block.write(type, 156);
    block.write('ustar\x0000', 257, 'latin1');
    block.write('        ', 148);
    const sum = block.reduce((total, byte) => total + byte, 0);
    block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return block;
  };
  const dirs = new Set<string>();
  for (const [name, data] of Object.entries(files)) {
    const dir = path.posix.dirname(name);
    if (!dirs.has(dir)) {
      dirs.add(dir);
      blocks.push(header(`${dir}/`, 0, '5'));
    }
    blocks.push(header(name, data.length, '0'), Buffer.from(data), Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
