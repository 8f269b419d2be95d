#!/usr/bin/env bash
# Device call 3 of 2026-12-03: bulk dQ as the default (GPU backward test on the default path, AOT vs JIT, bench)
# and the stride-aligned GNA default boxes.   OUT=folder bash bench/runs/2026-12-03/run3.sh
set -u
ROOT=$PWD; O=$OUT; mkdir -p $O
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_NO_TUNED=1 ATTNC_CACHE_DIR=$O/cache
A=.device/bin/attnc
AD=.device/tests/aot; src=$(sed -n 1p $AD/paths.txt); bld=$(sed -n 2p $AD/paths.txt)
{ [ -d "$src/recipes" ] || { mkdir -p "$(dirname "$src")" && ln -sfn "$ROOT" "$src"; }; } 2>/dev/null
{ [ -x "$bld/bin/attnc" ] || { mkdir -p "$(dirname "$bld")" && ln -sfn "$ROOT/.device" "$bld"; }; } 2>/dev/null
timeout 120 $AD/test_unit_runtime_test_aot_gpu > $O/aot_gpu.log 2>&1; echo "aot_gpu rc=$? $(grep -E '\[  (PASSED|FAILED)' $O/aot_gpu.log | tr '\n' ' ')"
ATTNC_TEST_SMALL=1 timeout 150 .device/tests/gpu/test_gpu_test_gpu_backward > $O/bwd_default.log 2>&1
echo "backward (default dQ) rc=$? PASS $(grep -c '^\[PASS\]' $O/bwd_default.log) FAIL $(grep -c '^\[FAIL\]' $O/bwd_default.log)"; grep '^\[FAIL\]' $O/bwd_default.log | head -5
for r in causal_d128 dense_d128; do
  timeout 60 $A bench bench/recipes/$r.attn --shape batch=1,heads=16,tokens=16384 --grad --warmup 3 --iters 10 > $O/b_$r.log 2>&1
  echo "$r rc=$? $(grep -E 'backward' $O/b_$r.log)"
done
timeout 100 .device/tests/gpu/test_gpu_test_gpu_grid_tma > $O/grid_tma.log 2>&1; echo "grid_tma rc=$? PASS $(grep -c '^\[PASS\]' $O/grid_tma.log) FAIL $(grep -c '^\[FAIL\]' $O/grid_tma.log)"; grep "gna" $O/grid_tma.log | head -4
for c in "hunyuan_gna batch=1,heads=24,T=30,H=48,W=80" "flux_gna batch=1,heads=24,H=256,W=256" "dense_d128 batch=1,heads=24,tokens=115200" "dense_d128 batch=1,heads=24,tokens=65536"; do
  set -- $c
  timeout 60 $A bench bench/recipes/$1.attn --shape $2 --warmup 5 --iters 20 > $O/f_$1_$2.log 2>&1
  echo "$1 $2 rc=$? $(sed -n 2p $O/f_$1_$2.log) $(sed -n '1s/.*\[\(.*\)\] (\(.*\) schedule).*/\1 (\2)/p' $O/f_$1_$2.log)"
done
