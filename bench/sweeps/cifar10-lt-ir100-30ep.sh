#!/usr/bin/env bash
# The 30-epoch CIFAR-10-LT IR 100 comparison of docs/results.md: runs (or resumes) every job of
# cifar10-lt-ir100-30ep.yaml two at a time, one thread each (`scatter sweep`), keeping each finished run's compact
# record in docs/measured-runs/cifar10-lt-ir100-30ep (commit it), then prints the table.
# Usage: bench/sweeps/cifar10-lt-ir100-30ep.sh [OUT_DIR (default runs/sweep-cifar10-lt-ir100-30ep)] [DEADLINE_SECONDS]
#        [SWEEP_OPTION]...
# Further arguments go to scatter sweep after these and win over them; SWEEP=FILE runs another list with the same
# schedule, e.g. the GPU replication: SWEEP=bench/sweeps/cifar10-lt-ir100-30ep-gpu.json with --parallel 12
# --set train.device=cuda (that list holds no schedule: pass the set lines of cifar10-lt-ir100-30ep.yaml too).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/sweep-cifar10-lt-ir100-30ep}
deadline=${2:-86400}
shift $(( $# < 2 ? $# : 2 ))
node dist/src/cli/main.js sweep "${SWEEP:-bench/sweeps/cifar10-lt-ir100-30ep.yaml}" --out "$out" \
  --keep docs/measured-runs/cifar10-lt-ir100-30ep --parallel 2 --threads 1 --deadline "$deadline" "$@"
