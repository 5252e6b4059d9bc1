#!/usr/bin/env node
// Installs what scatter needs and builds what is stale, so that `npm test` and `npm run demo` work on a
// fresh Debian machine:
//   1. Debian packages (libtorch-dev, libgloo-dev, libjpeg62-turbo-dev, dataset-fashion-mnist; for the tests also python3-torch,
//      the reference they compare with, and chromium, which opens the HTML report),
//      installed with apt-get when run as root, else printed as the exact command to run;
//   2. npm packages (`npm ci`) when node_modules is missing or older than package-lock.json;
//   3. the native addon (node-gyp) when it is missing or older than its sources.
// Flags: --for-tests (adds the test-only packages), --native-only (step 3 alone).
// SCATTER_LIBTORCH=/path/to/libtorch builds against that libtorch and skips the Debian libtorch.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', cwd: root, ...options });
  if (result.status !== 0) {
    console.error(`scatter setup: \`${command} ${commandArgs.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function debianPackagesNeeded() {
  const packages = [];
  // libgloo-dev: Gloo's headers, which libtorch's c10d headers include (the CPU distributed backend).
  if (!process.env.SCATTER_LIBTORCH) packages.push('libtorch-dev', 'libgloo-dev');
  // libjpeg's headers: the image addon decodes JPEGs (a crop's region alone) with libjpeg-turbo.
  packages.push('libjpeg62-turbo-dev', 'dataset-fashion-mnist');
  if (args.has('--for-tests')) packages.push('python3-torch', 'python3-torchvision', 'chromium');
  return packages;
}

function isInstalled(pkg) {
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a template.
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes(
      'install ok installed',
    );
  } catch {
    return false;
  }
}

function ensureDebianPackages() {
  if (!existsSync('/usr/bin/dpkg-query')) {
    if (!process.env.SCATTER_LIBTORCH) {
      console.error(
        'scatter setup: this is not a Debian-based system: install libtorch yourself and set SCATTER_LIBTORCH=/path/to/libtorch',
      );
      process.exit(1);
    }
    return;
  }
  const missing = debianPackagesNeeded().filter((pkg) => !isInstalled(pkg));
  if (missing.length === 0) return;
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...missing];
  if (process.getuid?.() !== 0) {
    console.error(`scatter setup: missing Debian packages: ${missing.join(' ')}\nrun: sudo apt-get update && sudo ${install.join(' ')}`);
    process.exit(1);
  }
  console.log(`scatter setup: installing ${missing.join(' ')}`);
  run('apt-get', ['update']);
  run(install[0], install.slice(1), { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function mtime(file) {
  return existsSync(file) ? statSync(file).mtimeMs : 0;
}

function ensureNodeModules() {
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  if (mtime(installed) >= mtime(path.join(root, 'package-lock.json'))) return;
  console.log('scatter setup: npm ci');
  run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
}

// node-gyp reads Node's headers from the installation when it ships them (Debian's nodejs, official
// tarballs), instead of downloading them.
function nodedirArgs() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function ensureNativeAddon() {
  const nativeDir = path.join(root, 'native');
  const addons = ['scatter.node', 'scatter_image.node'].map((name) => path.join(nativeDir, 'build', 'Release', name));
  const stampFile = path.join(nativeDir, 'build', 'libtorch.stamp');
  const libtorch = process.env.SCATTER_LIBTORCH ?? 'debian';
  const sources = [
    path.join(nativeDir, 'binding.gyp'),
    path.join(nativeDir, 'libtorch.cjs'),
    path.join(nativeDir, 'libjpeg.cjs'),
    ...readdirSync(path.join(nativeDir, 'src')).map((name) => path.join(nativeDir, 'src', name)),
  ];
  const newest = Math.max(...sources.map(mtime));
  const sameLibtorch = existsSync(stampFile) && readFileSync(stampFile, 'utf8') === libtorch;
  if (addons.every((file) => existsSync(file) && mtime(file) >= newest) && sameLibtorch) return;
  console.log(`scatter setup: building the native addon against libtorch (${libtorch})`);
  // The project's own node-gyp (a devDependency); installed as a dependency, the one npm runs install scripts with.
  const local = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const gyp = existsSync(local) ? local : process.env.npm_config_node_gyp;
  if (gyp === undefined || !existsSync(gyp)) {
    console.error('scatter setup: node-gyp is missing: run this from npm (npm install, npm run build:native) or install node-gyp');
    process.exit(1);
  }
  // A new libtorch, or no configured build yet, needs node-gyp's configure step too (rebuild).
  const configured = sameLibtorch && existsSync(path.join(nativeDir, 'build', 'Makefile'));
  // One compiler per core: each translation unit takes about 1 GiB with libtorch's headers.
  const jobs = String(availableParallelism());
  run(process.execPath, [gyp, configured ? 'build' : 'rebuild', '-j', jobs, ...nodedirArgs()], { cwd: nativeDir });
  writeFileSync(stampFile, libtorch);
  // make leaves an addon untouched when only binding.gyp or a helper script changed: marked current, the
  // next run does not build again.
  const now = new Date();
  for (const file of addons) if (existsSync(file)) utimesSync(file, now, now);
}

if (!args.has('--native-only')) {
  ensureDebianPackages();
  ensureNodeModules();
}
ensureNativeAddon();
