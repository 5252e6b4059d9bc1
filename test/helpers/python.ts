// Python PyTorch as the reference implementation for parity tests (Debian's python3-torch).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PYTHON = process.env.SCATTER_PYTHON ?? '/usr/bin/python3';

/** The source tree's root (tests run from dist/test/...). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The folder of the Python halves of the tests (test/python in the source tree). */
export const pythonDir = path.join(repoRoot, 'test', 'python');

let available: boolean | undefined;

/** Why Python PyTorch cannot be used here, or null when it can. */
export function pythonTorchMissing(): string | null {
  available ??= spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  return available ? null : `${PYTHON} cannot import torch (apt-get install python3-torch): parity skipped`;
}

let visionAvailable: boolean | undefined;

/** Why torchvision cannot be used here (Debian: python3-torchvision), or null when it can. */
export function torchvisionMissing(): string | null {
  const torch = pythonTorchMissing();
  if (torch !== null) return torch;
  visionAvailable ??= spawnSync(PYTHON, ['-c', 'import torchvision'], { stdio: 'ignore' }).status === 0;
  return visionAvailable ? null : `${PYTHON} cannot import torchvision (apt-get install python3-torchvision): parity skipped`;
}

/** Runs a script of test/python with arguments; throws with its stderr when it fails. */
export function runPython(script: string, args: string[], options: { threads?: number } = {}): string {
  const env = { ...process.env, OMP_NUM_THREADS: String(options.threads ?? 1) };
  const result = spawnSync(PYTHON, [path.join(pythonDir, script), ...args], { encoding: 'utf8', env, cwd: pythonDir });
  if (result.status !== 0) throw new Error(`${script} failed (exit ${result.status}):\n${result.stderr}`);
  return result.stdout;
}

// Each test file runs in its own process: the folders it made go when it exits (SCATTER_KEEP_TEST_DIRS=1 keeps
// them to look into).
const temporaryDirs: string[] = [];
process.on('exit', () => {
  if (process.env.SCATTER_KEEP_TEST_DIRS !== '1') for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

export function temporaryDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `scatter-${prefix}-`));
  temporaryDirs.push(dir);
  return dir;
}
