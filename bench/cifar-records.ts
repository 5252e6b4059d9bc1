// CIFAR's binary layout as the bench tools read and write it: fixed records of label byte(s) (one for CIFAR-10,
// coarse then fine for CIFAR-100) and 3072 pixel bytes (1024 R, 1024 G, 1024 B, each row-major 32 x 32).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const PIXELS = 3072;

/** The label bytes of a data set folder's records: 2 where it has CIFAR-100's fine_label_names.txt, else 1. */
export function labelBytesOf(dir: string): number {
  return existsSync(path.join(dir, 'fine_label_names.txt')) ? 2 : 1;
}

/** A binary file's records, checked to be whole. */
export function readRecords(file: string, labelBytes: number): { bytes: Buffer; count: number; recordSize: number } {
  const bytes = readFileSync(file);
  const recordSize = labelBytes + PIXELS;
  if (bytes.length % recordSize !== 0)
    throw new Error(`${file}: ${bytes.length} bytes is not a whole number of ${recordSize}-byte records`);
  return { bytes, count: bytes.length / recordSize, recordSize };
}

/** A record's pixels as interleaved RGB (what sharp reads and writes). */
export function recordToInterleaved(record: Uint8Array, labelBytes: number): Buffer {
  const interleaved = Buffer.alloc(PIXELS);
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) interleaved[p * 3 + c] = record[labelBytes + c * 1024 + p]!;
  return interleaved;
}

/** Writes interleaved RGB pixels into a record's channel-major pixel bytes. */
export function interleavedIntoRecord(interleaved: Uint8Array, record: Uint8Array, labelBytes: number): void {
  for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) record[labelBytes + c * 1024 + p] = interleaved[p * 3 + c]!;
}
