// Checking a data set's image files before training reads them: a missing or corrupt file is found in
// seconds, not after an epoch.
import type { Dataset } from './dataset.js';
import { imageFileProblem } from './decode.js';

export interface BadImage {
  file: string;
  problem: string;
}

/** The image files of `datasets` (each once; none for in-memory data sets). */
export function imageFiles(datasets: readonly Dataset[]): string[] {
  const files = new Set<string>();
  for (const dataset of datasets) {
    if (dataset.storage.kind === 'files') for (const file of dataset.storage.paths) files.add(file);
  }
  return [...files];
}

/** Checks every file (imageFileProblem), `concurrency` at a time; returns the bad ones in the files' order. */
export async function findBadImages(files: readonly string[], depth: 'headers' | 'decode', concurrency = 16): Promise<BadImage[]> {
  const problems: (string | null)[] = new Array(files.length).fill(null);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, files.length) }, async () => {
      for (let i = next++; i < files.length; i = next++) problems[i] = await imageFileProblem(files[i]!, depth);
    }),
  );
  return files.flatMap((file, i) => (problems[i] === null ? [] : [{ file, problem: problems[i]! }]));
}
