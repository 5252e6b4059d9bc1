#!/usr/bin/env bash
# A sweep on a lent GPU, inside one lease: runs (resumable within the lease) PARALLEL at a time on cuda until the
# deadline, keeps each finished run's compact record (config, summary, metrics, environment, analysis, batch
# covariance; no checkpoints) and brings them back as one archive, $OUT/records.tar.gz, since at most 8 files come
# back; unpack it into the sweep's docs/measured-runs folder. Unfinished runs are lost with the machine: size
# PARALLEL so that the runs finish (a 200-epoch CIFAR-100-LT run is 2.2 M images).
# Usage, under bench/device.sh: bench/gpu-sweep.sh SWEEP_FILE SECONDS [PARALLEL (default 4)] [SWEEP_OPTION]...
set -uo pipefail
cd "$(dirname "$0")/.."
file=$1
seconds=$2
parallel=${3:-4}
shift $(( $# < 3 ? $# : 3 ))
out=${OUT:?the device tool sets OUT}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/summary.txt"
node dist/src/cli/main.js sweep "$file" --out /tmp/scatter-sweep --keep "$out/records" --analyze --parallel "$parallel" \
  --threads 2 --deadline "$seconds" --set train.device=cuda "$@" 2>&1 | tee -a "$out/summary.txt"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader | tee -a "$out/summary.txt"
node dist/src/cli/main.js sweep "$file" --table "$out/records" 2>&1 | tee -a "$out/summary.txt"
tar -czf "$out/records.tar.gz" -C "$out" records && rm -rf "$out/records"
