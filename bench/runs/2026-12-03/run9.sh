#!/usr/bin/env bash
# Device call 2 of the 09:05 session: the helpers' GPU requests (each from its own packed build,
# .device-all/NAME.tar.xz = scripts/pack-device.sh folder + req.sh, under a time cap), then on
# main: param gradients under the wide grid dK/dV boxes, and ATTNC_TMA_FENCE=0 against the default.   OUT=dir bash bench/runs/2026-12-03/run9.sh "linbwd:150 wstile:130 ..."
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
export ATTNC_CACHE_DIR=/tmp/attnc-cache-run9
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for spec in $1; do
  n=${spec%%:*} cap=${spec##*:}
  [ -f .device-all/$n.tar.xz ] || { echo "== $n: no pack"; continue; }
  rm -rf /tmp/pk_$n .device; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz
  ln -sfn /tmp/pk_$n .device
  el "== $n (cap ${cap}s)"
  mkdir -p $OUT/$n
  OUT=$OUT LD_LIBRARY_PATH=$ROOT/.device/lib timeout $cap bash /tmp/pk_$n/req.sh > $OUT/$n/stdout.txt 2>&1
  echo "[$n rc=$?]"; tail -30 $OUT/$n/stdout.txt
done
[ -f .device-all/main.tar.xz ] || exit 0
rm -rf /tmp/pk_main .device; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
el "main: param gradients under wide boxes"
ATTNC_BWD_DKV_BOX=wide ATTNC_TEST_CASE=relpos ATTNC_TEST_RECIPE=relpos timeout 50 .device/tests/gpu/test_gpu_test_gpu_backward > $OUT/wide_param.log 2>&1
echo "rc=$? pass=$(grep -c '^\[PASS\]' $OUT/wide_param.log)"; grep "^\[FAIL\]" $OUT/wide_param.log | head -5
el "main: ATTNC_TMA_FENCE=0 vs default (alternating, best of 2; warmup 5 iters 20)"
b1() { .device/bin/attnc bench $1 --shape $2 --warmup 5 --iters 20 --json ${3:-} 2>/dev/null | grep '^{' | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print("%.1f" % d["tflops"])' 2>/dev/null || echo -; }
while read -r name recipe shape extra; do
  r=""; for i in 1 2; do r="$r def=$(b1 $recipe $shape "$extra") nofence=$(ATTNC_TMA_FENCE=0 b1 $recipe $shape "$extra")"; done
  echo "$name $r"
done <<'CASES'
dense16k bench/recipes/dense_d128.attn batch=1,heads=16,tokens=16384
causal16k bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384
sinks_swa bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768
doc8 bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 --docs=8
CASES
el "main: test_gpu_recipes and grid_tma with ATTNC_TMA_FENCE=0"
ATTNC_TEST_SMALL=1 ATTNC_TMA_FENCE=0 timeout 45 .device/tests/gpu/test_gpu_test_gpu_recipes > $OUT/nofence_recipes.log 2>&1; echo "recipes rc=$? pass=$(grep -c '^\[PASS\]' $OUT/nofence_recipes.log) fail=$(grep -c '^\[FAIL\]' $OUT/nofence_recipes.log)"
ATTNC_TMA_FENCE=0 timeout 40 .device/tests/gpu/test_gpu_test_gpu_grid_tma > $OUT/nofence_grid.log 2>&1; echo "grid_tma rc=$? pass=$(grep -c '^\[PASS\]' $OUT/nofence_grid.log) fail=$(grep -c '^\[FAIL\]' $OUT/nofence_grid.log)"
el done
