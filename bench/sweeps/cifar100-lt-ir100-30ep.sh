#!/usr/bin/env bash
# The 30-epoch CIFAR-100-LT IR 100 comparison of docs/results.md: runs (or resumes) every job of
# cifar100-lt-ir100-30ep.yaml two at a time, one thread each (`scatter sweep`), analyses each finished run and keeps
# its compact record in docs/measured-runs/cpu-cifar100-lt-ir100-30ep (commit it), then prints the table from those
# records as results.md has it.
# The data: CIFAR-100 in the binary layout at $SCATTER_DATA_DIR/cifar-100-binary (default ~/.cache/scatter-data); the
# JPEG rows use its quality-75 re-encoding, written beside it (bench/jpeg-reencode.ts) when missing.
# Usage: bench/sweeps/cifar100-lt-ir100-30ep.sh [OUT_DIR (default runs/sweep-cifar100-lt-ir100-30ep)]
#        [DEADLINE_SECONDS] [SWEEP_OPTION]...   (further arguments go to scatter sweep after these and win over them)
# The table alone, from the committed records: bench/sweeps/cifar100-lt-ir100-30ep.sh --table
set -euo pipefail
cd "$(dirname "$0")/../.."
records=docs/measured-runs/cpu-cifar100-lt-ir100-30ep
sweep=bench/sweeps/cifar100-lt-ir100-30ep.yaml
if [ "${1:-}" = --table ]; then node dist/src/cli/main.js sweep "$sweep" --table "$records"; exit; fi
data=${SCATTER_DATA_DIR:-$HOME/.cache/scatter-data}
export CIFAR100_JPEG75=$data/cifar-100-binary-jpeg75
[ -f "$CIFAR100_JPEG75/test.bin" ] || node dist/bench/jpeg-reencode.js "$data/cifar-100-binary" "$CIFAR100_JPEG75" --quality 75
out=${1:-runs/sweep-cifar100-lt-ir100-30ep}
deadline=${2:-86400}
shift $(( $# < 2 ? $# : 2 ))
node dist/src/cli/main.js sweep "$sweep" --out "$out" --keep "$records" --analyze --parallel 2 --threads 1 --deadline "$deadline" "$@"
