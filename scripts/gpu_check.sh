#!/usr/bin/env bash
# The GPU proof of the learned FROND (issue 12), for one H100-class GPU, in under 8 minutes:
# prepare the shared clips, train render and motion for a few hundred bf16 steps, measure
# batched inference at 256 and 512, render one video with the learned stages.
# Numbers: runs/gpu_check/gpu_check.json (steps/s, peak memory, frames/s, timings).
#
#   scripts/gpu_check.sh [VIDEOS_DIR] [extra gpu_check.py options]
#
# Never run on a GPU yet (no GPU was lent to the sessions that wrote it); its code paths run
# on CPU in tests/test_train_scale.py::test_gpu_check_script_runs_on_cpu.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
VIDEOS=${1:-../shared/data/train}
shift || true
WORK=${WORK:-runs/gpu_check}
mkdir -p "$WORK"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$WORK/nvidia_smi.csv" || true
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA: torch ' + torch.__version__" \
  || { echo "this torch build has no CUDA: install a CUDA torch (same version) first" >&2; exit 2; }
export GLOG_minloglevel=2 TF_CPP_MIN_LOG_LEVEL=2
# 470 s for the whole check leaves room under 8 minutes; the JSON is rewritten after every phase.
timeout 470 "$PY" scripts/gpu_check.py --device cuda --videos "$VIDEOS" --work "$WORK" \
  --render-steps 300 --motion-steps 300 --batch 16 --image-size 256 --model base \
  --sizes 256 512 --infer-batch 32 --prepare-workers "$(nproc)" "$@" | tee "$WORK/gpu_check.log"
echo "numbers: $WORK/gpu_check.json"
