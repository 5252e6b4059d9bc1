// What `scatter predict` is given, as image files: paths of images, folders (every image under them), and list
// files (`PATH` or `PATH LABEL` lines, paths relative to the list's folder, as the data sets' list files).
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { imagesUnder, isImageFile } from '../data/index.js';

/** The image files that `inputs` name, in order; a path that does not exist is an error naming it. */
export function expandInputs(inputs: readonly string[]): string[] {
  return inputs.flatMap((input) => {
    if (!existsSync(input)) throw new Error(`${input} does not exist`);
    if (statSync(input).isDirectory()) {
      const found = imagesUnder(input);
      if (found.length === 0) throw new Error(`${input}: no images (jpg, jpeg, png, webp, tif, tiff) under this folder`);
      return found;
    }
    if (isImageFile(input)) return [input];
    const root = path.dirname(input);
    return readFileSync(input, 'utf8')
      .split(/\r?\n/)
      .flatMap((line) => {
        const entry = line.trim();
        if (entry === '') return [];
        // The label, where there is one, is the last field; a path may contain spaces.
        const file = /^(.+?)\s+-?\d+$/.exec(entry)?.[1] ?? entry;
        return [path.isAbsolute(file) ? file : path.join(root, file)];
      });
  });
}
