// File writing shared by every layer: atomic replacement, so that a crash leaves either the old file or
// the new one, never a torn one (checkpoints, summaries, configs).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/** Writes `contents` to a temporary file beside `file`, syncs it, and renames it over `file`. */
export function writeFileAtomic(file: string, contents: string | Uint8Array): void {
  const temporary = `${file}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w');
  try {
    try {
      // One write call may write less than asked (a signal, a disk filling up): write until all is out.
      const bytes = typeof contents === 'string' ? Buffer.from(contents) : contents;
      for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written, bytes.length - written);
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
