#!/usr/bin/env bash
# The 30-epoch CIFAR-10-LT IR 100 comparison of docs/results.md: runs (or resumes) every job of
# cifar10-lt-ir100-30ep.json two at a time, one thread each, then prints the table as results.md has it.
# Usage: bench/sweeps/cifar10-lt-ir100-30ep.sh [OUT_DIR (default /root/scatter-runs/sweep-cifar10-lt-ir100-30ep)] [DEADLINE_SECONDS]
#        [SWEEP_OPTION]...
# Further arguments go to sweep.js after these and win over them (--jobs also picks the table's list): e.g. the GPU replication runs
#   --jobs bench/sweeps/cifar10-lt-ir100-30ep-gpu.json --parallel 12 --set train.device=cuda
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-/root/scatter-runs/sweep-cifar10-lt-ir100-30ep}
deadline=${2:-86400}
shift $(( $# < 2 ? $# : 2 ))
jobs=bench/sweeps/cifar10-lt-ir100-30ep.json
previous=
for argument in "$@"; do [ "$previous" = --jobs ] && jobs=$argument; previous=$argument; done
SCATTER_NUM_THREADS=1 node dist/bench/sweep.js --jobs "$jobs" --out "$out" \
  --parallel 2 --threads 1 --deadline "$deadline" --set train.epochs=30 --set schedule.warmupEpochs=2 \
  --set 'schedule.milestones=[24, 27]' --set train.evalEvery=10 --set data.workers=1 \
  --set train.recordCovarianceEvery=25 --set train.channelsLast=true "$@"
# Given the list, the table's "Not finished" line names the list's jobs only.
node dist/bench/sweep-table.js "$out/results.jsonl" "$jobs" --rows bench/sweeps/cifar10-lt-ir100-30ep.rows.json --against la
