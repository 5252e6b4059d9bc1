// File reading with errors that name the file and the problem in one line.
import { readFileSync, statSync } from 'node:fs';

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? (error as Error).message;
}

export function readBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`${file}: cannot read: ${reason(error)}`);
  }
}

export function assertDirectory(dir: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    throw new Error(`${dir}: data directory missing: ${reason(error)}`);
  }
  if (!isDirectory) throw new Error(`${dir}: data directory expected, found a file`);
}

export function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Non-empty lines of a text file, trimmed (class-name files). */
export function readLines(file: string): string[] {
  return readBytes(file)
    .toString('utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}
