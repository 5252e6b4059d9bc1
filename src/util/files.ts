// File writing shared by every layer: atomic replacement, so that a crash leaves either the old file or
// the new one, never a torn one (checkpoints, summaries, configs); errors that name the file; and the checks
// that an output folder can hold files at all.
import {
  accessSync,
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  openSync,
  renameSync,
  rmSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

/** Writes all of `bytes` at the descriptor's position: one write call may write less than asked (a disk filling up). */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** The error `error` of writing `file`, with the file named (Node's ENOSPC and EROFS messages do not name it). */
function writeError(file: string, error: unknown): Error {
  const cause = error as NodeJS.ErrnoException;
  const named = new Error(`cannot write ${file}: ${cause.message}`, { cause });
  Object.assign(named, { code: cause.code });
  return named;
}

/** The suffix of writeFileAtomic's temporary files, and the pid of the process that wrote one (null: not one). */
export function temporaryFileOwner(name: string): number | null {
  const match = /\.tmp-(\d+)$/.exec(name);
  return match === null ? null : Number(match[1]);
}

/** Writes `contents` to a temporary file beside `file`, syncs it, and renames it over `file`. */
export function writeFileAtomic(file: string, contents: string | Uint8Array): void {
  const temporary = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(temporary, 'w');
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
    throw writeError(file, error);
  }
}

/** Appends `text` to `file` (one write), naming the file when it fails. */
export function appendFile(file: string, text: string): void {
  try {
    appendFileSync(file, text);
  } catch (error) {
    throw writeError(file, error);
  }
}

/** Linux's magic numbers (statfs f_type) of file systems that are not storage: kernel interfaces. */
const PSEUDO_FILE_SYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x73636673, 'securityfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0x6e736673, 'nsfs'],
  [0xcafe4a11, 'bpf'],
  [0x50495045, 'pipefs'],
  [0x534f434b, 'sockfs'],
  [0x67596969, 'rpc_pipefs'],
]);

/** `dir` itself, or its nearest ancestor that exists. */
function nearestExisting(dir: string): string {
  let current = path.resolve(dir);
  while (!existsSync(current) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

/**
 * Checks, before anything is written, that the folder `dir` (which may not exist yet) can hold files: its
 * nearest existing folder is writable and not on a pseudo file system such as /proc (where mkdir can hang).
 * `what` names the folder in the error, e.g. '--out'.
 */
export function assertWritableFolder(dir: string, what: string): void {
  const existing = nearestExisting(dir);
  let kind: string | undefined;
  try {
    kind = PSEUDO_FILE_SYSTEMS.get(Number(statfsSync(existing).type));
  } catch {
    kind = undefined;
  }
  if (kind !== undefined)
    throw new Error(`${what} ${dir} is on the ${kind} pseudo file system (${existing}), which holds no files: choose a folder on a disk`);
  try {
    accessSync(existing, constants.W_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'EROFS' ? 'is on a read-only file system' : 'is not writable';
    throw new Error(`${what} ${dir} cannot be created or written: ${existing} ${reason}`, { cause: error });
  }
}
