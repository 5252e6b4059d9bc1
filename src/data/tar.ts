// Unpacking .tar.gz archives (the CIFAR downloads): node's gunzip and a minimal ustar reader for regular
// files and directories. Entries that would land outside the destination are refused.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

import { readBytes } from './io.js';

const BLOCK = 512;

function text(header: Uint8Array, start: number, length: number): string {
  const field = header.subarray(start, start + length);
  const end = field.indexOf(0);
  return Buffer.from(field.subarray(0, end < 0 ? length : end)).toString('utf8');
}

function octal(header: Uint8Array, start: number, length: number): number {
  const digits = text(header, start, length).trim();
  return digits.length === 0 ? 0 : parseInt(digits, 8);
}

/** Unpacks `archive` (.tar.gz) into `dir`; returns the relative paths of the files written. */
export function extractTarGz(archive: string, dir: string): string[] {
  let data: Uint8Array;
  try {
    data = gunzipSync(readBytes(archive));
  } catch (error) {
    throw new Error(`${archive}: corrupt gzip data: ${(error as Error).message}`);
  }
  const written: string[] = [];
  for (let offset = 0; offset + BLOCK <= data.length; ) {
    const header = data.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break; // end of archive
    // The checksum is the byte sum of the header with its own 8-byte field read as spaces.
    const sum = header.reduce((total, byte, i) => total + (i >= 148 && i < 156 ? 0x20 : byte), 0);
    if (sum !== octal(header, 148, 8)) throw new Error(`${archive}: corrupt tar header at byte ${offset}`);
    const prefix = text(header, 257, 6) === 'ustar' ? text(header, 345, 155) : '';
    const name = prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100);
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    offset += BLOCK;
    if (offset + size > data.length) throw new Error(`${archive}: truncated: ${name} needs ${size} bytes, ${data.length - offset} remain`);
    const target = path.resolve(dir, name);
    if (path.isAbsolute(name) || !target.startsWith(path.resolve(dir) + path.sep))
      throw new Error(`${archive}: entry ${name} points outside the destination`);
    if (type === '0' || type === '\0') {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, data.subarray(offset, offset + size));
      written.push(name);
    } else if (type === '5') {
      mkdirSync(target, { recursive: true });
    } else if (type !== 'x' && type !== 'g') {
      // pax metadata (mtime, owner) is not needed
      throw new Error(`${archive}: entry ${name} has tar type '${type}' (only files and directories are unpacked)`);
    }
    offset += Math.ceil(size / BLOCK) * BLOCK;
  }
  return written;
}
