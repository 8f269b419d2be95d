#!/usr/bin/env bash
# run-gpu.sh — the Python package's GPU run, on the GPU machine, from the
# repository root of a checkout that carries .device/ (scripts/pack-device.sh
# builds libattnc with LLVM inside it there; no compiler or network needed):
#   1. pytest over python/tests (the GPU tests: torch CUDA tensors, gradients,
#      torch.compile with inductor, streams, 10 ViT training steps; the CPU
#      tests run too);
#   2. bench_overhead.py: Python-call overhead over the bare C launch.
# The package runs from the source tree (PYTHONPATH=python), loading
# .device/lib/libattnc.so.0; nothing is installed.
# usage: python/run-gpu.sh      env: OUT (results folder, default ./gpu-out)
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
export ATTNC_LIBRARY=${ATTNC_LIBRARY:-$PWD/.device/lib/libattnc.so.0}
export ATTNC_CACHE_DIR=${ATTNC_CACHE_DIR:-$OUT/cache}
export PYTHONUNBUFFERED=1
python3 -c 'import torch, attnc; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      "| attnc", attnc.__version__, attnc.library_path, "backward:", attnc.has_backward())' 2>&1 |
  tee "$OUT/python-env.txt"
echo "== pytest python/tests"
python3 -m pytest -q -rs -p no:cacheprovider python/tests 2>&1 | tee "$OUT/python-pytest.log"
rc=${PIPESTATUS[0]}
echo "== bench_overhead.py"
python3 python/bench_overhead.py --json "$OUT/python-overhead.json" 2>&1 | tee "$OUT/python-overhead.txt"
rc2=${PIPESTATUS[0]}
echo "pytest exit $rc, overhead bench exit $rc2"
[ "$rc" -eq 0 ] && [ "$rc2" -eq 0 ]
