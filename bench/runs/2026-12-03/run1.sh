#!/usr/bin/env bash
# Device call 1 of 2026-12-03 (bench/RESULTS.md): GPU tests of merged main, the grid-box sweep, overlap=1/2,
# ATTNC_DOC_FULL, the tile-builder linear kernel. Run from the repo root with scripts/pack-device.sh's .device/:
#   OUT=folder bash bench/runs/2026-12-03/run1.sh
set -u
ROOT=$PWD
O=$OUT
mkdir -p "$O"
export LD_LIBRARY_PATH=$ROOT/.device/lib
export ATTNC_NO_TUNED=1
A=.device/bin/attnc
T=.device/tests/gpu
t00=$(date +%s)
el() { echo $(( $(date +%s) - t00 )); }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader | head -1

# 1. GPU tests, in parallel, fresh cache
export ATTNC_CACHE_DIR=$O/cache
mkdir -p $O/tests
pids=()
for t in $T/test_gpu_test_gpu_*; do
  n=$(basename $t .sh); n=${n#test_gpu_test_gpu_}
  [ "$n" = cp_nccl ] && continue
  lim=240; [ "$n" = backward ] && lim=300
  ( env $([ "$n" = backward ] && echo ATTNC_TEST_SMALL=1) timeout $lim $t > $O/tests/$n.log 2>&1; echo "rc=$?" >> $O/tests/$n.log ) &
  pids+=($!)
done
wait "${pids[@]}"
for f in $O/tests/*.log; do
  printf '%-12s %s  PASS %s FAIL %s %s\n' $(basename $f .log) "$(tail -1 $f)" "$(grep -c '^\[PASS\]\|^\[       OK \]' $f)" "$(grep -c '^\[FAIL\]\|^\[  FAILED  \]' $f)" "$(grep -m1 -E '^skipped' $f)"
  grep -E '^\[FAIL\]|^\[  FAILED  \]' $f | head -4
done
echo "[$(el)s] tests done"
# AOT GPU test (forward + backward launcher)
AD=.device/tests/aot; src=$(sed -n 1p $AD/paths.txt); bld=$(sed -n 2p $AD/paths.txt)
{ [ -d "$src/recipes" ] || { mkdir -p "$(dirname "$src")" && ln -sfn "$ROOT" "$src"; }; } 2>/dev/null
{ [ -x "$bld/bin/attnc" ] || { mkdir -p "$(dirname "$bld")" && ln -sfn "$ROOT/.device" "$bld"; }; } 2>/dev/null
timeout 120 $AD/test_unit_runtime_test_aot_gpu > $O/tests/aot_gpu.log 2>&1; echo "aot_gpu rc=$? $(grep -E '\[  (PASSED|FAILED)' $O/tests/aot_gpu.log | tr '\n' ' ')"
echo "[$(el)s] aot done"

b() { # label file shape [schedule] -- prints TFLOP/s and ms
  local label=$1 f=$2 sh=$3 s=${4:-}
  local log=$O/bench/$(echo "$label" | tr ' /=,' '____').log
  mkdir -p $O/bench
  if [ -n "$s" ]; then timeout 40 $A bench $f --shape $sh --schedule "$s" --warmup 5 --iters 20 > $log 2>&1
  else timeout 40 $A bench $f --shape $sh --warmup 5 --iters 20 $BX > $log 2>&1; fi
  local rc=$?
  printf '%-44s %-14s %s rc=%d %s\n' "$label" "$(grep -o '[0-9.]* TFLOP/s' $log | head -1)" "$(grep -o 'time [0-9.]* ms' $log | head -1)" $rc "$(sed -n '1s/.*\[\(.*\)\] (\(.*\) schedule).*/\1 (\2)/p' $log | cut -c1-100) $(grep -m1 -iE 'error|illegal|refus' $log | cut -c1-120)"
}
BX=""
# 2. grid defaults (ws TMA now default) and candidate boxes
FL=batch=1,heads=24,H=256,W=256; HY=batch=1,heads=24,T=30,H=48,W=80
for r in flux_na flux_gna; do
  b "$r default" bench/recipes/$r.attn $FL
  for s in "q=8x16 kv=16x8" "q=8x16 kv=8x16" "q=16x8 kv=16x8"; do b "$r $s" bench/recipes/$r.attn $FL "$s stages=2 warps=8 mma=wgmma_ws"; done
done
for r in hunyuan_na hunyuan_gna; do
  b "$r default" bench/recipes/$r.attn $HY
  for s in "q=4x8x4 kv=2x4x8" "q=4x8x4 kv=4x4x4" "q=2x8x8 kv=2x8x8" "q=4x4x8 kv=2x4x8"; do b "$r $s" bench/recipes/$r.attn $HY "$s stages=2 warps=8 mma=wgmma_ws"; done
done
b "na2d_k17 default" bench/recipes/na2d_k17.attn batch=1,heads=16,H=128,W=128
b "na2d_k17 q8x16 kv16x8" bench/recipes/na2d_k17.attn batch=1,heads=16,H=128,W=128 "q=8x16 kv=16x8 stages=2 warps=8 mma=wgmma_ws"
b "na3d default" bench/recipes/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32
b "na3d q4x8x4 kv2x4x8" bench/recipes/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32 "q=4x8x4 kv=2x4x8 stages=2 warps=8 mma=wgmma_ws"
b "na3d q4x8x4 kv4x4x4" bench/recipes/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32 "q=4x8x4 kv=4x4x4 stages=2 warps=8 mma=wgmma_ws"
for ov in 1 2; do
  b "hunyuan_gna 2x8x8 ov=$ov" bench/recipes/hunyuan_gna.attn $HY "q=2x8x8 kv=2x8x8 stages=2 warps=8 mma=wgmma_ws overlap=$ov"
  b "flux_gna 8x16 ov=$ov" bench/recipes/flux_gna.attn $FL "q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws overlap=$ov"
  b "hunyuan_na 4x8x4/2x4x8 ov=$ov" bench/recipes/hunyuan_na.attn $HY "q=4x8x4 kv=2x4x8 stages=2 warps=8 mma=wgmma_ws overlap=$ov"
done
b "dense 115200 tokens" bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200
b "dense 115200 tokens ov=1" bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200 "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"
echo "[$(el)s] grid sweep done"
# 3. fwdpp overlap
for c in "dense_d128 batch=1,heads=16,tokens=16384" "causal_d128 batch=1,heads=16,tokens=16384" "sinks_swa_w2047 batch=1,heads=16,tokens=32768"; do
  set -- $c
  b "$1 default" bench/recipes/$1.attn $2
  for ov in 1 2; do for st in 2 3; do b "$1 ov=$ov st=$st" bench/recipes/$1.attn $2 "q=128 kv=128 stages=$st warps=8 mma=wgmma_ws overlap=$ov"; done; done
done
echo "[$(el)s] overlap done"
# 4. docrange
for m in 0 1; do ATTNC_DOC_FULL=$m b "doc8 DOC_FULL=$m" bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536; done
# 5. linear (tile builder kernel) vs the old emitter (dq pack = old main)
for r in lightning2 gated_linear; do
  b "$r new" recipes/$r.attn batch=1,heads=16,tokens=16384
done
echo "[$(el)s] doc/linear done"
echo "[$(el)s] all done"
