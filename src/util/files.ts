// File writing shared by every layer: atomic replacement, so that a crash leaves either the old file or
// the new one, never a torn one (checkpoints, summaries, configs).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/** Writes all of `bytes` at the descriptor's position: one write call may write less than asked (a disk filling up). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** Writes `contents` to a temporary file beside `file`, syncs it, and renames it over `file`. */
export function writeFileAtomic(file: string, contents: string | Uint8Array): void {
  const temporary = `${file}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w');
  try {
    try {
      writeAll(fd, typeof contents === 'string' ? Buffer.from(contents) : contents);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (error) {
    // A full disk or a vanished folder: the old file stays as it was, and no half-written copy beside it.
    rmSync(temporary, { force: true });
    throw error;
  }
}
