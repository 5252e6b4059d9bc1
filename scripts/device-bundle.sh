#!/usr/bin/env bash
# Prepares what a lent GPU machine needs and lacks, in .device/ (git-ignored; the device tool's `carry` takes it):
# the GPU image has PyTorch, g++ and Python but no Node, and nothing can be fetched there, while at most 64 MiB of
# working tree travels. So: this machine's Node binary, stripped and xz-compressed (about 22 MB), its headers for
# node-gyp, the few npm packages a GPU run loads (yaml, image-size, fflate; node-addon-api and node-gyp to build the
# addon; sharp, vega and onnx-proto stay behind: CIFAR's binary files, training and analysis do not load them), the
# compiled dist/, and the data asked for (CIFAR-100-LT IR 100 packed by bench/cifar-lt-pack.ts, 35 MB; or CIFAR-10 as
# ../shared holds it, 19 MB: one of the two fits beside the rest).
# On the device, bench/device.sh unpacks it all and runs a script. Sizes are printed: keep the total under 64 MiB
# together with the tracked files.
# Usage: scripts/device-bundle.sh [cifar100-lt-ir100 | cifar10]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.device
mkdir -p "$out/runtime" "$out/data"
npx tsc -p .
if [ ! -f "$out/runtime/node.xz" ]; then
  strip -o "$out/runtime/node" "$(readlink -f "$(command -v node)")"
  xz -9 -T0 -f "$out/runtime/node"
fi
prefix=$(node -p 'require("path").resolve(process.execPath, "..", "..")')
tar -C "$prefix" -cJf "$out/runtime/node-include.tar.xz" include/node
node -e '
const fs = require("fs"), path = require("path");
const seen = new Set();
// Each package and what it depends on, resolved as Node resolves them.
function add(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const where = path.join(dir, "node_modules", name);
    if (fs.existsSync(path.join(where, "package.json"))) {
      if (seen.has(where)) return;
      seen.add(where);
      const manifest = JSON.parse(fs.readFileSync(path.join(where, "package.json"), "utf8"));
      for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) add(dep, where);
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}
for (const name of ["yaml", "image-size", "fflate", "node-addon-api", "node-gyp"]) add(name, process.cwd());
fs.writeFileSync(".device/runtime/modules.txt", [...seen].map((p) => path.relative(process.cwd(), p)).join("\n") + "\n");
'
tar -cJf "$out/runtime/modules.tar.xz" -T "$out/runtime/modules.txt"
tar -cJf "$out/runtime/dist.tar.xz" dist
data=${SCATTER_DATA_DIR:-$HOME/.cache/scatter-data}
for name in "$@"; do
  case $name in
    # CIFAR-100-LT IR 100 (and every larger ratio): the long-tailed training records and the test file.
    cifar100-lt-ir100) [ -f "$out/data/$name/pack.json" ] || node dist/bench/cifar-lt-pack.js "$data/cifar-100-binary" "$out/data/$name" --ratio 100 ;;
    # CIFAR-10 as the project's shared folder holds it (JPEG, 19 MB; its prepare.sh builds the binary files there).
    cifar10) mkdir -p "$out/data/cifar10" && cp ../shared/datasets/cifar10/* "$out/data/cifar10/" ;;
    *) echo "device-bundle: unknown data $name (cifar100-lt-ir100, cifar10)" >&2; exit 2 ;;
  esac
done
du -sh "$out"/runtime/*.xz "$out"/data/* 2>/dev/null
echo "total with the tracked files: $(( ($(du -sb "$out" | cut -f1) + $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1)) / 1048576 )) MiB of 64"
