#!/usr/bin/env bash
# GPU check, about 8 minutes on one CUDA GPU: benchmark, the `full` profile's training, nbval.
# Usage (from the repository root, after `make setup`): bash scripts/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${1:-out/gpu_check}
mkdir -p "$OUT"
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
PY
echo "== benchmark (GPU: bf16 autocast, channels_last)"
"$PY" -m inception_nb bench --device cuda --image-size 96 --batch-size 256 --steps 20 --json | tee "$OUT/bench.json"
echo "== full profile: 96x96x3, 4 minutes of training"
"$PY" -m inception_nb train --profile full --time-budget 240 --out "$OUT/full" --overwrite --json | tee "$OUT/train.json"
echo "== nbval over the notebooks on the GPU"
timeout 240 "$PY" -m pytest notebooks --nbval -q -p no:cacheprovider 2>&1 | tail -15 | tee "$OUT/nbval.txt"
