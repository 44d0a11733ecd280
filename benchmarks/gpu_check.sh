#!/usr/bin/env bash
# The GPU check in one device call (see benchmarks/gpu_check.py). Run from the repository root
# with .gpu_wheels/ carried (scripts/fetch_gpu_wheels.sh fills it):
#     bash benchmarks/gpu_check.sh [--procs 4] [--seconds 60] [--budget-s 480]
# Figures go to $OUT (the device's output folder), else ./gpu_check_out.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_check_out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
python3 benchmarks/gpu_check.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_check.log"
rm -rf "$OUT/work"  # test videos and results: only the figures come back
