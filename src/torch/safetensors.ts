// safetensors files (https://github.com/huggingface/safetensors, format v1): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte range, then the raw bytes,
// little-endian and row-major. Python's safetensors reads what this writes, and the reverse.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

import { writeFileAtomic } from '../util/files.js';

import { type Dtype, bytesPerElement } from './dtype.js';
import { native } from './native.js';
import { Tensor } from './tensor.js';

const TO_FILE: Record<Dtype, string> = {
  float32: 'F32',
  float64: 'F64',
  bfloat16: 'BF16',
  float16: 'F16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_FILE = new Map<string, Dtype>(Object.entries(TO_FILE).map(([dtype, code]) => [code, dtype as Dtype]));

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Encodes named tensors (and optional string metadata) as the bytes of a safetensors file. */
export function serialize(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const header: Record<string, HeaderEntry | Record<string, string>> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const tensor = tensors[name]!;
    const bytes = new Uint8Array(native.toBuffer(tensor.handle));
    header[name] = { dtype: TO_FILE[tensor.dtype], shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
    payloads.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // The data start is kept 8-byte aligned by padding the header with spaces, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  return Buffer.concat([length, headerBytes, ...payloads]);
}

/** Decodes a safetensors file's bytes into named CPU tensors and its metadata. */
export function deserialize(
  bytes: Uint8Array,
  source = 'safetensors data',
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const fail = (why: string): never => {
    throw new Error(`${source}: not a valid safetensors file: ${why}`);
  };
  if (bytes.byteLength < 8) fail('shorter than its 8-byte header length');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.readBigUInt64LE(0));
  if (8 + headerLength > bytes.byteLength) fail(`header length ${headerLength} runs past the end of the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(view.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    return fail(`header is not JSON (${(error as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as HeaderEntry;
    const dtype = FROM_FILE.get(entry.dtype) ?? fail(`tensor '${name}' has unsupported dtype ${entry.dtype}`);
    const [begin, end] = entry.data_offsets;
    const expected = entry.shape.reduce((a, b) => a * b, 1) * bytesPerElement(dtype);
    if (!(begin >= 0 && end <= dataLength && end - begin === expected)) {
      fail(`tensor '${name}' has byte range [${begin}, ${end}) but needs ${expected} bytes within ${dataLength}`);
    }
    // Copy into an aligned buffer: the addon copies again into libtorch's memory.
    const copy = bytes.slice(dataStart + begin, dataStart + end);
    tensors[name] = new Tensor(native.fromBuffer(copy, entry.shape, dtype));
  }
  return { tensors, metadata };
}

/** Writes named tensors to `file` atomically (a crash leaves the old file or the new one). */
export function saveFile(tensors: Record<string, Tensor>, file: string, metadata?: Record<string, string>): void {
  writeFileAtomic(file, serialize(tensors, metadata));
}

export function loadFile(file: string): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  return deserialize(readFileSync(file), file);
}

/** A file's metadata alone, reading only its header (a checkpoint's record without its tensors). */
export function loadMetadata(file: string): Record<string, string> {
  const fd = openSync(file, 'r');
  try {
    const length = Buffer.alloc(8);
    if (readSync(fd, length, 0, 8, 0) < 8) throw new Error(`${file}: not a valid safetensors file: shorter than its 8-byte header length`);
    const header = Buffer.alloc(Number(length.readBigUInt64LE(0)));
    if (readSync(fd, header, 0, header.length, 8) < header.length) {
      throw new Error(`${file}: not a valid safetensors file: header length ${header.length} runs past the end of the file`);
    }
    try {
      return (JSON.parse(header.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__ ?? {};
    } catch (error) {
      throw new Error(`${file}: not a valid safetensors file: header is not JSON (${(error as Error).message})`);
    }
  } finally {
    closeSync(fd);
  }
}
