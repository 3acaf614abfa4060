#!/usr/bin/env bash
# The transformers' CUDA path on a lent GPU machine: tests, timings, and (optionally)
# association-model training runs.  Not part of CI (CI has no GPU).  Needs the pure-Python
# wheels the GPU image lacks in .whl/ (fvcore, iopath, yacs, termcolor):
#   pip wheel --no-deps -w .whl fvcore==0.1.5.post20221221 iopath==0.1.10 yacs==0.1.8 termcolor==3.3.0
# Usage: bash scripts/gpu_check.sh [tests] [timings] [train SECONDS]   (output under $OUT)
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__, torch.cuda.get_device_name())"
nproc
for step in "$@"; do
  case $step in
    tests)
      python3 -m pytest -q -p no:cacheprovider tests/trackers/transformer/test_cuda.py 2>&1 | tee "$OUT/tests.txt" ;;
    timings)
      { python3 - <<'PY'
import sys, torch
sys.path.insert(0, "benchmarks")
import bench_transformer as bt
torch.set_num_threads(1)
bt.lookback_table(["cpu", "cuda"], quick=False)
PY
        for dev in cpu cuda; do
          python3 benchmarks/bench_association.py --speed --device $dev --threads 1
        done; } 2>&1 | tee "$OUT/timings.txt" ;;
    [0-9]*)
      # association training: the held-out-motion model and its all-motion control, same
      # protocol (the shipped checkpoint's), on the GPU, side by side; resumable
      for run in "brownian:--motions brownian" "all:"; do
        name=${run%%:*}; extra=${run#*:}
        [ -f "ckpt/assoc_$name.pt" ] && cp "ckpt/assoc_$name.pt" "$OUT/"
        timeout "$step" python3 -m napari_mpt.cli train --kind association --device cuda \
            $extra --out "$OUT/assoc_$name.pt" --resume --log "$OUT/assoc_$name.csv" \
            --no-progress --json > "$OUT/train_$name.txt" 2>&1 &
      done
      wait
      tail -n 3 "$OUT"/train_*.txt ;;
  esac
done
