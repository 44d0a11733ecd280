#!/usr/bin/env bash
# Download the wheels benchmarks/gpu_check.py installs on the GPU machine (Python 3.12, no
# registry there) into .gpu_wheels/ (git-ignored; carry it to the device). Exactly these
# packages, at the versions constraints.txt pins, as cp312 manylinux x86_64 wheels, no
# dependencies (torch and the rest are on the device already). numba + llvmlite, which `import
# shap` needs, are ~61 MiB together and would not fit the 64 MiB carry limit: without them the
# check reports `--explain sample` as not measured.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-.gpu_wheels}"
PIP="${PIP:-python -m pip}"
pkgs=()
for name in av facenet-pytorch dtaidistance safetensors shap slicer cloudpickle; do
    pin=$(grep -i "^${name}==" constraints.txt || true)
    pkgs+=("${pin:-$name}")
done
mkdir -p "$DEST"
$PIP download --quiet --only-binary=:all: --no-deps --python-version 3.12 --implementation cp --abi cp312 \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST" "${pkgs[@]}"
total=$(du -cb "$DEST"/*.whl | tail -1 | cut -f1)
echo "$(ls "$DEST"/*.whl | wc -l) wheels, $((total / 1048576)) MiB in $DEST"
if [ "$total" -gt $((45 * 1048576)) ]; then
    echo "over 45 MiB: with the working tree they would not fit the device's 64 MiB carry limit" >&2
    exit 1
fi
