#!/usr/bin/env bash
# full-run.sh — the whole GPU session in one command (GPU machine, repo root,
# `.device/` from scripts/pack-device.sh carried, optionally `.whl/` with
# fla-core for the linear anchors): GPU tests, benchmarks with anchors, the
# linear-attention comparison, schedule sweeps for the D=128 cases, a short
# `attnc tune` on CUDA, the cold compile of every benchmark recipe and the
# compile timings (cold / disk / memory cache), racecheck of the softmax
# recipes and, when time is left, memcheck of the linear kernels. Everything
# lands in $OUT/full-run.tgz; the tables print.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export OUT LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export ATTNC_CACHE_DIR=$OUT/cache
A=.device/bin/attnc

echo "== cold compile, every benchmark recipe, 3 fresh processes each (first: a fresh machine)"
timeout 120 bench/cold-compile.sh $A 3 > "$OUT/cold-compile.txt" 2>&1
sed -n '/^| recipe/,$p' "$OUT/cold-compile.txt"

TEST_TIMEOUT=150 STEPS="tests bench anchors" timeout 400 scripts/gpu-run.sh .device > "$OUT/gpu-run.txt" 2>&1
sed -n '/-- summary/,$p' "$OUT/gpu-run.txt"

if ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl &&
    PYTHONPATH=/tmp/site timeout 150 python3 bench/linear_anchors.py --attnc $A > "$OUT/linear.txt" 2>&1
  tail -8 "$OUT/linear.txt"
fi

echo "== schedule sweeps (D=128): default (auto: wgmma + TMA producer), plain wgmma, mma.sync"
S=("q=128 kv=128 stages=2 warps=8" "q=128 kv=128 stages=2 warps=8 mma=wgmma" "q=128 kv=64 stages=2 warps=8 mma=sync")
{
  bench/sweep.sh $A bench/recipes/dense_d128.attn batch=2,heads=16,tokens=8192 "${S[@]}"
  bench/sweep.sh $A bench/recipes/causal_d128.attn batch=2,heads=16,tokens=8192 "${S[@]}"
  bench/sweep.sh $A bench/recipes/swa_w1024.attn batch=1,heads=16,tokens=16384 "${S[@]}"
} 2>&1 | tee "$OUT/sweep.txt" | sed -E 's/\{.*"time_ms": ([0-9.]+).*"tflops": ([0-9.]+).*/ms=\1 tflops=\2/' | cut -c1-160

echo "== attnc tune on CUDA"
timeout 60 $A tune bench/recipes/causal_d128.attn --shape batch=2,heads=16,tokens=8192 --max 4 > "$OUT/tune.txt" 2>&1
echo "tune exit $?"; tail -10 "$OUT/tune.txt"

echo "== compile timings: cold / disk cache (cubin, no JIT) / memory cache, CUDA"
timeout 150 $A bench recipes/causal.attn --compile-timings --backend cuda --repeats 5 > "$OUT/compile-timings.txt" 2>&1
echo "compile-timings exit $?"; cat "$OUT/compile-timings.txt"
timeout 150 $A bench recipes/causal.attn --compile-timings --backend cuda --repeats 5 --json > "$OUT/compile-timings.json" 2>&1

if [ "${RACECHECK:-1}" = 1 ] && [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
  echo "== racecheck, every softmax recipe (small shapes; default kernels and mma=sync)"
  ATTNC_TEST_SMALL=1 timeout 150 /usr/local/cuda/bin/compute-sanitizer --tool racecheck --error-exitcode 9 \
    --print-limit 20 .device/tests/gpu/test_gpu_test_gpu_recipes > "$OUT/racecheck-recipes.txt" 2>&1
  echo "racecheck exit $?"; grep -E "PASSED|FAILED|RACECHECK SUMMARY" "$OUT/racecheck-recipes.txt"
fi

if [ "$SECONDS" -lt 470 ] && [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
  echo "== memcheck, linear kernels (small shapes; inter=chain among them)"
  ATTNC_TEST_SMALL=1 timeout $((560 - SECONDS)) /usr/local/cuda/bin/compute-sanitizer --tool memcheck --error-exitcode 9 \
    --print-limit 20 .device/tests/gpu/test_gpu_test_gpu_linear > "$OUT/memcheck-linear.txt" 2>&1
  echo "memcheck linear exit $?"; grep -E "PASSED|FAILED|ERROR SUMMARY" "$OUT/memcheck-linear.txt"
fi

cd "$OUT" && tar czf full-run.tgz --exclude=full-run.tgz --exclude=cache . 2>/dev/null
find "$OUT" -mindepth 1 -maxdepth 1 ! -name full-run.tgz ! -name results.md -exec rm -rf {} +
