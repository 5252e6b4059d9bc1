#!/usr/bin/env bash
# Runs on a lent GPU machine, in the repository's copy there, with .device/ carried (scripts/device-bundle.sh made
# it): puts Node and its headers under /tmp/scatter-node, the npm packages and dist/ in place, the data under
# /tmp/scatter-data (CIFAR-100-LT unpacked by bench/cifar_lt_unpack.py, CIFAR-10 built by its prepare.sh), builds the
# addon against the machine's PyTorch, then runs SCRIPT with its arguments (SCATTER_DATA_DIR names the data).
# Usage (the device tool's command, with carry [".device"]): bash bench/device.sh SCRIPT [ARG]...
# When the tracked files and .device pass the tool's 64 MiB (the records grow), carry in two calls, the second at
# once (a machine goes back after 30 s idle; /tmp stays while it is held): first carry [".device/data"] with
#   python3 bench/cifar_lt_unpack.py .device/data/cifar100-lt-ir100 /tmp/scatter-data/cifar-100-binary
# then carry [".device/runtime"] with the usual command: without .device/data it keeps the data already unpacked.
set -euo pipefail
cd "$(dirname "$0")/.."
node_root=/tmp/scatter-node
mkdir -p "$node_root/bin"
xz -dc .device/runtime/node.xz >"$node_root/bin/node"
chmod +x "$node_root/bin/node"
tar -C "$node_root" -xJf .device/runtime/node-include.tar.xz
export PATH=$node_root/bin:$PATH
tar -xJf .device/runtime/modules.tar.xz
tar -xJf .device/runtime/dist.tar.xz
export SCATTER_DATA_DIR=/tmp/scatter-data
mkdir -p "$SCATTER_DATA_DIR"
if [ -f .device/data/cifar100-lt-ir100/pack.json ]; then
  python3 bench/cifar_lt_unpack.py .device/data/cifar100-lt-ir100 "$SCATTER_DATA_DIR/cifar-100-binary"
fi
if [ -f .device/data/cifar10/prepare.sh ]; then
  # prepare.sh's /usr/bin/python3 lacks Pillow there: the python3 that holds PyTorch has it.
  python3 .device/data/cifar10/build_binary.py "$SCATTER_DATA_DIR/cifar-10-batches-bin" >/dev/null
  (cd "$SCATTER_DATA_DIR/cifar-10-batches-bin" && sha256sum --quiet -c "$OLDPWD/.device/data/cifar10/SHA256SUMS")
fi
SCATTER_LIBTORCH=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
export SCATTER_LIBTORCH
node scripts/setup.mjs --native-only >/tmp/scatter-build.log 2>&1 || { tail -n 30 /tmp/scatter-build.log; exit 1; }
echo "device.sh: node $(node --version), addon built against $SCATTER_LIBTORCH; data: $(ls "$SCATTER_DATA_DIR")"
exec bash "$@"
