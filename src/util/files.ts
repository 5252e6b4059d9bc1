// File writing shared by every layer: atomic replacement, so that a crash leaves either the old file or
// the new one, never a torn one (checkpoints, summaries, configs).
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';

/** Writes `contents` to a temporary file beside `file`, syncs it, and renames it over `file`. */
export function writeFileAtomic(file: string, contents: string | Uint8Array): void {
  const temporary = `${file}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w');
  try {
    if (typeof contents === 'string') writeSync(fd, contents);
    else writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}
