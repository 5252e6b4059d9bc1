// Data sets of image files, decoded with sharp when read: image folders (one sub-folder per class) and
// list files (`PATH LABEL` per line, the ImageNet-LT / Places-LT / iNaturalist format).
import { readdirSync } from 'node:fs';
import path from 'node:path';

import type { Dataset, ImageStorage } from './dataset.js';
import { assertDirectory, readBytes } from './io.js';

/** The extensions sharp decodes, as in torchvision's image folders (case-insensitive). */
const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff']);

class FileDataset implements Dataset {
  readonly storage: ImageStorage;
  readonly length: number;
  readonly numClasses: number;

  protected constructor(
    readonly paths: readonly string[],
    readonly labels: Int32Array,
    readonly classNames: readonly string[],
  ) {
    this.storage = { kind: 'files', paths };
    this.length = paths.length;
    this.numClasses = classNames.length;
  }

  storageIndex(i: number): number {
    return i;
  }
}

/** Whether `file` has an extension of an image that sharp decodes. */
export function isImageFile(file: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/** The image files under `dir`, at any depth, sorted by path. */
export function imagesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && isImageFile(entry.name))
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name))
    .sort();
}

/** root/<class>/**.jpg: classes are the sub-folders in sorted order, images sorted by path within each. */
export class ImageFolderDataset extends FileDataset {
  constructor(readonly root: string) {
    assertDirectory(root);
    const classNames = readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    if (classNames.length === 0) throw new Error(`${root}: no class sub-folders`);
    const paths: string[] = [];
    const labels: number[] = [];
    classNames.forEach((name, label) => {
      for (const file of imagesUnder(path.join(root, name))) {
        paths.push(file);
        labels.push(label);
      }
    });
    if (paths.length === 0) throw new Error(`${root}: no images (${[...IMAGE_EXTENSIONS].join(' ')}) in its class sub-folders`);
    super(paths, Int32Array.from(labels), classNames);
  }
}

export interface ListFileOptions {
  /** Class names by label; their number is the number of classes (else: the largest label + 1, named by number). */
  classNames?: readonly string[];
}

/**
 * A list file of `RELATIVE/PATH LABEL` lines (the path may contain spaces: the label is the last field),
 * paths relative to `root`. Blank lines are skipped.
 */
export class ListFileDataset extends FileDataset {
  constructor(
    readonly listFile: string,
    readonly root: string,
    options: ListFileOptions = {},
  ) {
    assertDirectory(root);
    const paths: string[] = [];
    const labels: number[] = [];
    readBytes(listFile)
      .toString('utf8')
      .split(/\r?\n/)
      .forEach((rawLine, lineIndex) => {
        const line = rawLine.trim();
        if (line.length === 0) return;
        const match = /^(.+?)\s+(-?\d+)$/.exec(line);
        if (!match)
          throw new Error(`${listFile}:${lineIndex + 1}: malformed line (expected 'PATH LABEL'): ${JSON.stringify(line.slice(0, 80))}`);
        const label = Number(match[2]);
        if (label < 0 || (options.classNames !== undefined && label >= options.classNames.length)) {
          const range = options.classNames === undefined ? 'labels must be >= 0' : `outside 0..${options.classNames.length - 1}`;
          throw new Error(`${listFile}:${lineIndex + 1}: label ${label} ${range}`);
        }
        paths.push(path.join(root, match[1]!));
        labels.push(label);
      });
    if (paths.length === 0) throw new Error(`${listFile}: no entries`);
    const numClasses = options.classNames?.length ?? labels.reduce((max, label) => Math.max(max, label), 0) + 1;
    super(paths, Int32Array.from(labels), options.classNames ?? Array.from({ length: numClasses }, (_, label) => String(label)));
  }
}
