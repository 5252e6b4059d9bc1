#!/usr/bin/env bash
# The GPU checks, in one go, on a machine with a CUDA build of PyTorch (its libtorch is what scatter builds
# against) and node/npm packages in place. Most important first; every step writes its output under OUT_DIR as
# it finishes, and a failing step is logged and the script goes on:
#   0. builds the addon against that libtorch (SCATTER_LIBTORCH; native/src/graphs.cc compiles against CUDA only
#      here) and checks that scatter sees cuda and has CUDA graphs; the unboxed calls' test against its
#      operator signatures (test/torch/direct-call.test.ts); 8-bit batches normalised on cuda (test/data/loader.test.ts);
#                                                                                                        ~0.5-1 min
#   1. train.capture's tests on cuda (test/train/capture.test.ts: captured training steps against eager ones, to
#      1e-5, for six settings, three of them ZCA necks captured in parts around the eigendecomposition, never run
#      on a GPU yet);                                                                                    ~1.5 min
#  1b. the native whitening node's tests and profile on cuda (never run on a GPU yet; with the layer in parts);  ~1 min
#   2. the ResNet-32 step (batch 128) eager and captured, each against Python PyTorch eager and torch.cuda.graph
#      (bench/resnet32-step.ts --capture): images/s and the ratios; then the full method's step (the ZCA neck,
#      batch 160: BET's 128 + 32) eager and captured in two parts, scatter alone (--neck whitening);     ~2 min
#   3. rows of the same step in bfloat16 autocast and channels-last (channels-last also captured);      ~1.5 min
#   4. aggregate images/s of 1, 4 and 12 `scatter train` runs sharing the GPU with train.capture=auto (the CE
#      recipe, 3 epochs each; the second epoch's images/s, summed over the runs);                        ~2.5 min
#   5. the 200-epoch CIFAR-10-LT IR100 full-method recipe with --set train.capture=auto, timed, stopped at the
#      budget (it checkpoints every epoch: `scatter train --resume` finishes it). Its ZCA neck is captured in two
#      parts around the eigendecomposition (the log's train.capture lines say so; a failed capture ends the run
#      with a message naming train.capture=off); no eager twin is run beside it.                       the rest
# Usage: bench/gpu.sh CIFAR10_DIR OUT_DIR [BUDGET_SECONDS]
#   CIFAR10_DIR: CIFAR-10 in the official binary layout; OUT_DIR receives logs, JSON lines, metrics and summaries;
#   BUDGET_SECONDS (default 540): the whole script's time; the last step gets what is left.
set -uo pipefail
cd "$(dirname "$0")/.."
cifar=$1
out=$2
budget=${3:-540}
began=$(date +%s)
mkdir -p "$out"
left() { echo $(( budget - ($(date +%s) - began) )); }
# step NAME COMMAND...: runs COMMAND with its output in OUT/NAME.log, says how it ended, never stops the script.
step() {
  local name=$1 start
  shift
  start=$(date +%s)
  "$@" >"$out/$name.log" 2>&1
  echo "$name: exit $?, $(( $(date +%s) - start )) s ($(left) s of the budget left)" | tee -a "$out/summary.txt"
}

SCATTER_LIBTORCH=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
export SCATTER_LIBTORCH
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' | tee -a "$out/summary.txt"
step build node scripts/setup.mjs --native-only
node -e "import('./dist/src/index.js').then(({ torch }) => console.log('scatter sees cuda:', torch.cuda.isAvailable(), torch.cuda.deviceCount(), 'CUDA graphs:', torch.cuda.graphsBuilt()))" | tee -a "$out/summary.txt"

# 0b. The unboxed operator calls (native/src/direct.cc) against this libtorch's signatures: each listed operator has
# its direct call and equals the boxed one (CPU tensors; seconds).
step direct-test node --test dist/test/torch/direct-call.test.js
grep -E '^(not )?ok|^# (pass|fail|skipped)' "$out/direct-test.log" | tee -a "$out/summary.txt"

# 0c. 8-bit batches normalised on cuda against the workers' float32 batches (test/data/loader.test.ts), seconds.
step loader-test node --test dist/test/data/loader.test.js
grep -E '^(not )?ok|^# (pass|fail|skipped)' "$out/loader-test.log" | tee -a "$out/summary.txt"

# 1. Captured steps against eager steps on cuda.
step capture-test node --test dist/test/train/capture.test.js
grep -E '^(not )?ok|^# (pass|fail|skipped)' "$out/capture-test.log" | tee -a "$out/summary.txt"

# 1b. The native whitening node on cuda (never run on a GPU yet): its equality with the TypeScript layer and the
# layer's time, native and TypeScript side by side.                                                     ~1 min
SCATTER_TEST_DEVICE=cuda step whitening-test node --test dist/test/longtail/whitening.test.js
grep -E '^(not )?ok|^# (pass|fail|skipped)' "$out/whitening-test.log" | tee -a "$out/summary.txt"
step whitening-profile node dist/bench/whitening-profile.js --device cuda
tail -n 8 "$out/whitening-profile.log" | tee -a "$out/summary.txt"

# 2-3. The ResNet-32 step: each row a JSON line in OUT/step.jsonl.
stepBench() {  # name flags...
  local name=$1
  shift
  step "step-$name" node dist/bench/resnet32-step.js --device cuda --python python3 --rounds 3 --steps 20 --warmup 3 "$@"
  tail -n 1 "$out/step-$name.log" | grep '^{' >>"$out/step.jsonl"
}
stepBench eager
stepBench capture --capture
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((line) => JSON.parse(line));
  const find = (capture) => rows.find((row) => row.capture === capture && row.precision === "float32" && !row.channelsLast && row.neck !== "whitening");
  const [eager, captured] = [find(false), find(true)];
  if (!eager || !captured) { console.log("step: a row is missing"); process.exit(0); }
  console.log(`ResNet-32 step, batch ${eager.batch}, images/s: scatter eager ${eager.scatterImagesPerSecond}, scatter captured ${captured.scatterImagesPerSecond}, ` +
    `PyTorch eager ${eager.pytorchImagesPerSecond}, torch.cuda.graph ${captured.pytorchImagesPerSecond}`);
  console.log(`ratios: scatter captured / scatter eager ${(captured.scatterImagesPerSecond / eager.scatterImagesPerSecond).toFixed(3)}, ` +
    `scatter captured / PyTorch eager ${(captured.scatterImagesPerSecond / eager.pytorchImagesPerSecond).toFixed(3)}, ` +
    `scatter captured / torch.cuda.graph ${captured.ratio}, scatter eager / PyTorch eager ${eager.ratio}`);
' "$out/step.jsonl" | tee -a "$out/summary.txt"
stepBench bf16 --precision bfloat16
stepBench channels-last --channels-last
stepBench channels-last-capture --channels-last --capture
# The full method's step: whiten-la-b3rs-bet's neck and batch (BET concat: 128 + 32), eager and captured in two parts.
stepBench full-eager --neck whitening --batch 160
stepBench full-capture --neck whitening --batch 160 --capture
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((line) => JSON.parse(line));
  const find = (capture) => rows.find((row) => row.capture === capture && row.neck === "whitening");
  const [eager, captured] = [find(false), find(true)];
  if (!eager || !captured) { console.log("full-method step: a row is missing"); process.exit(0); }
  console.log(`full-method step (ZCA neck, batch ${eager.batch}), images/s: scatter eager ${eager.scatterImagesPerSecond}, ` +
    `captured in two parts ${captured.scatterImagesPerSecond} (${(captured.scatterImagesPerSecond / eager.scatterImagesPerSecond).toFixed(3)}x)`);
' "$out/step.jsonl" | tee -a "$out/summary.txt"

# 4. Runs sharing the GPU, captured: `scatter sweep`-style parallel processes, short runs.
runs=$(mktemp -d)
train() {  # dir timeout config overrides...
  local dir=$1 seconds=$2 config=$3
  shift 3
  SCATTER_NUM_THREADS=1 timeout "$seconds" node dist/src/cli/main.js train --config "configs/cifar10-lt-ir100/$config.yaml" \
    --set train.device=cuda --set "data.root=$cifar" --set train.capture=auto "$@" --out "$dir" >"$dir.log" 2>&1
}
shared() {  # n
  local n=$1 i
  for i in $(seq 1 "$n"); do
    train "$runs/shared$n-$i" 150 ce --set data.workers=1 --set train.epochs=3 --set train.evalEvery=100 --set "seed=$i" &
  done
  wait
  node -e '
    const fs = require("fs");
    const [dir, n] = [process.argv[1], Number(process.argv[2])];
    let total = 0, counted = 0;
    for (let i = 1; i <= n; i++) {
      try {
        const steps = Number(/; (\d+) steps per epoch/.exec(fs.readFileSync(`${dir}/shared${n}-${i}.log`, "utf8"))[1]);
        const second = fs.readFileSync(`${dir}/shared${n}-${i}/metrics.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l))[1];
        total += (steps * 128) / second.seconds;
        counted += 1;
      } catch { /* a run that did not get to its second epoch is not counted */ }
    }
    console.log(`${n} runs sharing the GPU (captured): ${Math.round(total)} images/s together in their second epochs (${counted} of ${n} counted)`);
  ' "$runs" "$n"
  grep -h 'train.capture' "$runs/shared$n-1.log" | head -n 1
}
for n in 1 4 12; do step "shared-$n" shared "$n"; cat "$out/shared-$n.log" | tee -a "$out/summary.txt"; done

# 5. The 200-epoch full method, with what is left of the budget.
full() {
  local began
  began=$(date +%s.%N)
  train "$runs/full" "$(( $(left) - 15 ))" whiten-la-b3rs-bet --set data.workers=4
  echo "full method, train.capture=auto: exit $?, wall $(awk "BEGIN { print $(date +%s.%N) - $began }") s"
  grep -h 'train.capture' "$runs/full.log" | head -n 3
  # Captured: the two-part line is there and no capture failed (a failed one ends the run naming train.capture=off).
  if grep -q 'captured in two parts' "$runs/full.log" && ! grep -q 'train.capture=off' "$runs/full.log"; then
    echo "full method: steps captured in two parts"
  else
    echo "full method: NOT captured (see full-run.log)"
  fi
  tail -n 2 "$runs/full.log"
  cp "$runs/full.log" "$out/full-run.log" 2>/dev/null
  cp "$runs/full/metrics.jsonl" "$out/full-metrics.jsonl" 2>/dev/null
  cp "$runs/full/summary.json" "$out/full-summary.json" 2>/dev/null
}
if [ "$(left)" -gt 60 ]; then step full full; cat "$out/full.log" | tee -a "$out/summary.txt"; fi
echo "gpu.sh done in $(( $(date +%s) - began )) s" | tee -a "$out/summary.txt"
