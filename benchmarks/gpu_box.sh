#!/bin/bash
# The GPU measurements on a bare GPU machine without Docker (e.g. a lent box with torch and CUDA but no registry):
# the family's transformers wheel and vlmrun's host dependencies installed from a folder of wheels, then
#   1. full MME, end to end: `vlmrun eval qwen2-vl-2b-random --bench MME-synth --gpus all --backend local`
#      (benchmarks/throughput.py --full-size --configs default), and
#   2. benchmarks/gpu_profile.py on 512 rows of the same set (batch 64 and 128; variants as VARIANTS says).
#
#   WHEELS=.whl QUESTIONS=../shared/data/mme/questions TSV=MME-synth.tsv OUT=/tmp/out bash benchmarks/gpu_box.sh
#
# WHEELS: transformers==5.24.0 (the transformers-latest lock's) and vlmrun's pure-Python dependencies the box lacks
# (docker, openpyxl, pydantic, ...; `pip download --no-deps` them on a machine that reaches PyPI). TSV: a 2374-row
# MME-format set (`vlmrun.datasets.build_mme_tsv(QUESTIONS, TSV)`). Each part has its own time limit (FULL_S,
# PROFILE_S) so that a lease's time is never overrun.
set -o pipefail
cd "$(dirname "$0")/.."
WHEELS=${WHEELS:-.whl} QUESTIONS=${QUESTIONS:-../shared/data/mme/questions} TSV=${TSV:-MME-synth.tsv}
OUT=${OUT:-/tmp/vlmrun-gpu-out}
mkdir -p "$OUT"
T0=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "$WHEELS"/*.whl 2>&1 | tail -2
mkdir -p /tmp/vlmrun-shim && ln -sfn "$PWD/runner" /tmp/vlmrun-shim/vlmrun  # the host package, importable as vlmrun
export PYTHONPATH=/tmp/vlmrun-shim:$PWD/images/worker PYTHONUNBUFFERED=1 VLMRUN_LOCAL_PYTHON=$(command -v python3)
export VLMRUN_CACHE=${VLMRUN_CACHE:-/tmp/vlmrun-cache}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
[ -f "$TSV" ] || python3 -c "from pathlib import Path; from vlmrun.datasets import build_mme_tsv; build_mme_tsv(Path('$QUESTIONS'), Path('$TSV'))"
echo "setup $(( $(date +%s) - T0 )) s"
timeout "${FULL_S:-360}" python3 benchmarks/throughput.py --full-size --gpus all --backend local --configs default \
  --questions "$QUESTIONS" 2>&1 | tee "$OUT/full.log"
M=$(ls -d "$VLMRUN_CACHE"/tiny/qwen2-vl-2b-random/*/ 2>/dev/null | head -1)  # the model the full run built
timeout "${PROFILE_S:-180}" python3 benchmarks/gpu_profile.py --tsv "$TSV" --model-dir "${M:-/tmp/qwen2-vl-2b-random}" \
  --rows 512 --rows-batch1 32 --batches "${BATCHES:-64,128}" --prefetch 1 --variants "${VARIANTS:-processes=4}" \
  --out "$OUT" 2>&1 | grep -v "it/s\]" | tee "$OUT/profile.log"
echo "total $(( $(date +%s) - T0 )) s"
