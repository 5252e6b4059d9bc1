#!/usr/bin/env bash
# The 30-epoch CIFAR-100-LT IR 100 comparison of docs/results.md: runs (or resumes) every job of
# cifar100-lt-ir100-30ep.json two at a time, one thread each (the schedule of the CIFAR-10-LT comparison), analyses
# each finished run and keeps its compact record in docs/measured-runs/cpu-cifar100-lt-ir100-30ep (commit it),
# then prints the table from those records as results.md has it.
# The data: CIFAR-100 in the binary layout at $SCATTER_DATA_DIR/cifar-100-binary (default ~/.cache/scatter-data); the
# JPEG rows use its quality-75 re-encoding, written beside it (bench/jpeg-reencode.ts) when missing.
# Usage: bench/sweeps/cifar100-lt-ir100-30ep.sh [OUT_DIR (default /root/scatter-runs/sweep-cifar100-lt-ir100-30ep)]
#        [DEADLINE_SECONDS] [SWEEP_OPTION]...   (further arguments go to sweep.js after these and win over them)
# The table alone, from the committed records: bench/sweeps/cifar100-lt-ir100-30ep.sh --table
set -euo pipefail
cd "$(dirname "$0")/../.."
records=docs/measured-runs/cpu-cifar100-lt-ir100-30ep
jobs=bench/sweeps/cifar100-lt-ir100-30ep.json
table() {
  node dist/bench/sweep-table.js "$records" "$jobs" --rows bench/sweeps/cifar100-lt-ir100-30ep.rows.json --against la
}
if [ "${1:-}" = --table ]; then table; exit; fi
data=${SCATTER_DATA_DIR:-$HOME/.cache/scatter-data}
export CIFAR100_JPEG75=$data/cifar-100-binary-jpeg75
[ -f "$CIFAR100_JPEG75/test.bin" ] || node dist/bench/jpeg-reencode.js "$data/cifar-100-binary" "$CIFAR100_JPEG75" --quality 75
out=${1:-/root/scatter-runs/sweep-cifar100-lt-ir100-30ep}
deadline=${2:-86400}
shift $(( $# < 2 ? $# : 2 ))
SCATTER_NUM_THREADS=1 node dist/bench/sweep.js --jobs "$jobs" --out "$out" --keep "$records" --analyze \
  --parallel 2 --threads 1 --deadline "$deadline" --set train.epochs=30 --set schedule.warmupEpochs=2 \
  --set 'schedule.milestones=[24, 27]' --set train.evalEvery=10 --set data.workers=1 \
  --set train.recordCovarianceEvery=25 --set train.channelsLast=true "$@"
table
