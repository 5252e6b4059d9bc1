#!/usr/bin/env bash
# The GPU checks, in one go, on a machine with a CUDA build of PyTorch (its libtorch is what scatter
# builds against) and node/npm packages in place:
#   1. builds the addon against that libtorch (SCATTER_LIBTORCH);
#   2. trains the 200-epoch CIFAR-10-LT IR100 recipe with cross-entropy and with the full method
#      (configs/cifar10-lt-ir100/ce.yaml, whiten-la-b3rs-bet.yaml) on the GPU, both at once, timing each;
#   3. meanwhile, the float64 gradient checks on cuda (test/torch/gradcheck.test.ts);
#   4. the ResNet-32 step benchmark against Python PyTorch on cuda (bench/resnet32-step.ts);
#   5. channel whitening on cuda: its tests (test/longtail/whitening.test.ts, the native node against the
#      TypeScript layer among them), its share of a step and the layer's own time, native and TypeScript
#      side by side (bench/whitening-share.ts, bench/whitening-profile.ts).
# Usage: bench/gpu.sh CIFAR10_DIR OUT_DIR [RUN_SECONDS]
#   CIFAR10_DIR: CIFAR-10 in the official binary layout; OUT_DIR receives logs, metrics and summaries;
#   RUN_SECONDS (default 1200): the runs are stopped after this long (they checkpoint every epoch).
set -uo pipefail
cd "$(dirname "$0")/.."
cifar=$1
out=$2
runSeconds=${3:-1200}
mkdir -p "$out"

SCATTER_LIBTORCH=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
export SCATTER_LIBTORCH
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
start=$(date +%s)
node scripts/setup.mjs --native-only || exit 1
echo "addon built in $(( $(date +%s) - start )) s"
node -e "import('./dist/src/index.js').then(({ torch }) => console.log('scatter sees cuda:', torch.cuda.isAvailable(), torch.cuda.deviceCount()))"

runs=$(mktemp -d)
train() {  # name config
  local began
  began=$(date +%s.%N)
  SCATTER_NUM_THREADS=4 timeout "$runSeconds" node dist/src/cli/main.js train --config "configs/cifar10-lt-ir100/$2.yaml" \
    --set train.device=cuda --set data.workers=4 --set "data.root=$cifar" --out "$runs/$1" >"$out/$1.log" 2>&1
  echo "$1: exit $?, wall $(awk "BEGIN { print $(date +%s.%N) - $began }") s" | tee -a "$out/$1.log"
  cp "$runs/$1/metrics.jsonl" "$out/$1-metrics.jsonl" 2>/dev/null
  cp "$runs/$1/summary.json" "$out/$1-summary.json" 2>/dev/null
}
train ce ce &
train full whiten-la-b3rs-bet &

for check in torch/gradcheck longtail/whitening; do
  log="$out/$(basename "$check").log"
  SCATTER_TEST_DEVICE=cuda node --test "dist/test/$check.test.js" >"$log" 2>&1
  echo "$check on cuda: exit $? ($(grep -c '^ok' "$log") ok, $(grep -c '^not ok' "$log") not ok)"
done
wait
tail -n 2 "$out/ce.log" "$out/full.log"

node dist/bench/resnet32-step.js --device cuda --python python3 --rounds 4 2>&1 | tail -n 6
node dist/bench/whitening-share.js --device cuda --steps 20 --rounds 3
node dist/bench/whitening-profile.js --device cuda
