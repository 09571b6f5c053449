#!/usr/bin/env bash
# All of orgtune's GPU checks in one go, for a machine with CUDA and PyTorch:
# the CUDA path check (bench/gpu_check.py; inputs from `--prepare` in DIR) and the
# training benchmark for each model on the sheet. JSON results land in OUT.
#   bash bench/gpu.sh INPUTS_DIR OUT_DIR
set -uo pipefail
cd "$(dirname "$0")/.."
INPUTS="$1"; OUT="$2"; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY="${PYTHON:-python3}"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
} > "$OUT/env.txt" 2>&1
"$PY" bench/gpu_check.py --inputs "$INPUTS" > "$OUT/gpu_check.json" 2> "$OUT/gpu_check.log"
echo "gpu_check exit $?" >> "$OUT/env.txt"
run() {  # name, args...
  local name="$1"; shift
  "$PY" bench/gpu_train.py "$@" > "$OUT/train_$name.json" 2>> "$OUT/bench.log"
  echo "gpu_train $name exit $?" >> "$OUT/env.txt"
}
run mistral --model mistral
run mistral_plain --model mistral --no-fast-path
run qwen --model qwen
run smollm2 --model smollm2 --batch 8
cat "$OUT/env.txt" "$OUT"/*.json
