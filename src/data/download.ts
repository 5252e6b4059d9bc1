// `scatter data download NAME`: the official archives from their publishers, checked against their
// published MD5 sums, resumed with HTTP Range when a transfer breaks, unpacked atomically.
import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
} from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

import { writeAll } from '../util/files.js';
import { extractTarGz } from './tar.js';

export type DownloadName = 'cifar10' | 'cifar100' | 'mnist' | 'fashion-mnist';

interface Source {
  /** The publisher's folder; the files are fetched from baseUrl + file. */
  baseUrl: string;
  /** Files and their published MD5 sums (torchvision lists the same ones). */
  files: Record<string, string>;
  /** The folder the data ends up in, under the destination: the archive's own top folder, or made for the files. */
  folder: string;
  /** .tar.gz archives are unpacked (and then removed); gzipped IDX files are read as they are. */
  unpack: boolean;
}

const MNIST_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

function idxFiles(md5: string[]): Record<string, string> {
  return Object.fromEntries(MNIST_FILES.map((file, i) => [file, md5[i]!]));
}

export const DOWNLOADS: Readonly<Record<DownloadName, Source>> = {
  cifar10: {
    baseUrl: 'https://www.cs.toronto.edu/~kriz/',
    files: { 'cifar-10-binary.tar.gz': 'c32a1d4ab5d03f1284b67883e8d87530' },
    folder: 'cifar-10-batches-bin',
    unpack: true,
  },
  cifar100: {
    baseUrl: 'https://www.cs.toronto.edu/~kriz/',
    files: { 'cifar-100-binary.tar.gz': '03b5dce01913d631647c71ecec9e9cb8' },
    folder: 'cifar-100-binary',
    unpack: true,
  },
  mnist: {
    // LeCun's site refuses downloads now; this is the mirror that torchvision uses first
    baseUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
    files: idxFiles([
      'f68b3c2dcbeaaa9fbdd348bbdeb94873',
      'd53e105ee54ea40749a09fcbcd1e9432',
      '9fb629c4189551a2d022fa330f9573f3',
      'ec29112dd5afa0611ce80d1b7f02629c',
    ]),
    folder: 'mnist',
    unpack: false,
  },
  'fashion-mnist': {
    // Zalando's repository; the MD5 sums are those of its README
    baseUrl: 'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
    files: idxFiles([
      '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
      '25c81989df183df01b3e8a0aad5dffbe',
      'bef4ecab320f06d8554ea6380940ec79',
      'bb300cfdad3c16e7a12a480ee83cd310',
    ]),
    folder: 'fashion-mnist',
    unpack: false,
  },
};

export interface DownloadOptions {
  /** Where the data goes: the result is dir/<folder> (cifar-10-batches-bin, cifar-100-binary, mnist, fashion-mnist). */
  dir: string;
  /** Replaces the publisher's folder URL (a mirror, a local server). Default: $SCATTER_DATA_URL, else the publisher. */
  baseUrl?: string;
  /** Replaces published MD5 sums by file name, for mirrors that repackaged the files. */
  checksums?: Readonly<Record<string, string>>;
  /** Further attempts after a transfer breaks, each resuming where the last one stopped (default 5). */
  retries?: number;
  /** Wait before a retry, growing with each one (default 1000 ms). */
  retryDelayMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

const IDLE_TIMEOUT_MS = 60_000;

function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** A GET that follows redirects; resolves with the final response, its body unread. */
function get(url: string, headers: Record<string, string>, redirects = 5): Promise<IncomingMessage> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.get(url, { headers }, (response) => {
      const location = response.headers.location;
      if (location && [301, 302, 303, 307, 308].includes(response.statusCode ?? 0)) {
        response.resume();
        if (redirects === 0) reject(new Error(`${url}: too many redirects`));
        else resolve(get(new URL(location, url).href, headers, redirects - 1));
        return;
      }
      resolve(response);
    });
    request.on('error', reject);
    request.setTimeout(IDLE_TIMEOUT_MS, () => request.destroy(new Error(`no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
  });
}

/** An answer that retrying will not change (404, 403, ...). */
class HttpError extends Error {}

/** One attempt: appends to `partFile` from its current size; throws when the transfer breaks. */
async function transfer(url: string, partFile: string): Promise<void> {
  const have = fileSize(partFile);
  const response = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {});
  const status = response.statusCode ?? 0;
  if (status === 416 && have > 0) {
    // nothing after what we have: the file is complete (the checksum will tell)
    response.resume();
    return;
  }
  if (status !== 200 && status !== 206) {
    response.resume();
    throw new HttpError(`${url}: HTTP ${status} ${response.statusMessage ?? ''}`.trim());
  }
  const resumed = status === 206;
  if (resumed && !new RegExp(`^bytes ${have}-`).test(response.headers['content-range'] ?? '')) {
    response.resume();
    throw new HttpError(`${url}: the server answered a resume at byte ${have} with range ${response.headers['content-range']}`);
  }
  if (!resumed && have > 0) truncateSync(partFile, 0); // the server ignored the Range header: start over
  const total = resumed
    ? Number(/\/(\d+)$/.exec(response.headers['content-range'] ?? '')?.[1])
    : Number(response.headers['content-length']);
  // Each chunk goes to disk as it arrives (a stream pipeline would drop what it buffered when the
  // connection breaks), so that the next attempt resumes after every byte received.
  const fd = openSync(partFile, 'a');
  try {
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => {
        try {
          writeAll(fd, chunk);
        } catch (error) {
          response.destroy(error as Error);
        }
      });
      response.on('error', reject);
      response.on('close', () => (response.complete ? resolve() : reject(new Error('the connection closed early'))));
    });
  } finally {
    closeSync(fd);
  }
  const size = fileSize(partFile);
  if (Number.isFinite(total) && size !== total) throw new Error(`the connection closed at ${size} of ${total} bytes`);
}

async function downloadFile(url: string, file: string, md5: string, options: DownloadOptions): Promise<void> {
  if (existsSync(file) && (await md5Of(file)) === md5) return;
  const partFile = `${file}.part`;
  const retries = options.retries ?? 5;
  for (let attempt = 0; ; attempt++) {
    try {
      options.log?.(fileSize(partFile) > 0 ? `resuming ${url} at byte ${fileSize(partFile)}` : `downloading ${url}`);
      await transfer(url, partFile);
      break;
    } catch (error) {
      if (error instanceof HttpError) throw error;
      if (attempt >= retries) {
        throw new Error(
          `${url}: transfer broke at ${fileSize(partFile)} bytes after ${attempt + 1} attempts ` +
            `(${(error as Error).message}); ${partFile} is kept: run again to resume`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, (options.retryDelayMs ?? 1000) * (attempt + 1)));
    }
  }
  const actual = await md5Of(partFile);
  if (actual !== md5) {
    rmSync(partFile);
    throw new Error(
      `${file}: MD5 ${actual} does not match the expected ${md5}: the download is corrupt or not the official file (removed it)`,
    );
  }
  renameSync(partFile, file);
}

/** Downloads, checks and unpacks a data set; returns the folder to load it from (loadCifar, loadMnist). */
export async function downloadDataset(name: DownloadName, options: DownloadOptions): Promise<string> {
  const source = DOWNLOADS[name];
  if (source === undefined) throw new Error(`unknown data set ${JSON.stringify(name)} (known: ${Object.keys(DOWNLOADS).join(', ')})`);
  const target = path.join(options.dir, source.folder);
  // Archives are unpacked atomically (see below), so their folder existing means the data set is complete.
  if (source.unpack && existsSync(target)) return target;
  const baseUrl = options.baseUrl ?? process.env.SCATTER_DATA_URL ?? source.baseUrl;
  const downloadDir = source.unpack ? options.dir : target;
  mkdirSync(downloadDir, { recursive: true });
  for (const [file, publishedMd5] of Object.entries(source.files)) {
    const local = path.join(downloadDir, file);
    await downloadFile(
      new URL(file, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href,
      local,
      options.checksums?.[file] ?? publishedMd5,
      options,
    );
    if (!source.unpack) continue;
    options.log?.(`unpacking ${local}`);
    // Unpacked beside the target and renamed into place: an interrupted unpack leaves no half data set.
    const staging = mkdtempSync(path.join(options.dir, '.unpack-'));
    try {
      extractTarGz(local, staging);
      if (!existsSync(path.join(staging, source.folder))) throw new Error(`${local}: the archive has no ${source.folder}/ folder`);
      renameSync(path.join(staging, source.folder), target);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    rmSync(local);
  }
  return target;
}
