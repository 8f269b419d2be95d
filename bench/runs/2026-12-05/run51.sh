#!/usr/bin/env bash
# Device call 51 (2026-12-05 evening): full-range loops on by default for token grids, and 3-D GNA boxes on the
# overlapped loop (run50: HunyuanVideo GNA 604 -> 670 TFLOP/s that way on the H100). Checks the new defaults
# (test_gpu_grid_tma, test_gpu_recipes small, `attnc run --check` on GNA shapes that divide the boxes and that do
# not, NA recipes), then two rounds: HunyuanVideo GNA new default (qgroup=8 kept) / without qgroup / the old
# default (plain loop, three stages, ATTNC_FULL_RANGE=0); FLUX GNA and the NA recipes with and without
# (ATTNC_FULL_RANGE=0); dense on HunyuanVideo's and FLUX's tokens as the yardstick.
#   OUT=dir bash bench/runs/2026-12-05/run51.sh    (.device-all/main.tar.xz; ~5 min)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP ATTNC_PERSIST_DYNAMIC ATTNC_DOC_TABLE ATTNC_FULL_RANGE
R=bench/recipes T=/tmp/pk/tests/gpu A=/tmp/pk/bin/attnc
el tests
( for spec in "$R/hunyuan_gna.attn batch=1,heads=2,T=18,H=24,W=32" "$R/hunyuan_gna.attn batch=1,heads=1,T=19,H=26,W=33" \
      "$R/flux_gna.attn batch=1,heads=2,H=96,W=96" "$R/flux_gna.attn batch=1,heads=1,H=100,W=90" \
      "$R/hunyuan_na.attn batch=1,heads=1,T=18,H=24,W=26" "$R/na2d_k17.attn batch=1,heads=2,H=40,W=37" \
      "$R/na3d_k7x13x13.attn batch=1,heads=2,T=9,H=15,W=17"; do
    set -- $spec
    ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $A run $1 --backend cuda --check --shape $2 > /tmp/c_$(basename $1 .attn)_$2.txt 2>&1
      rc=$?; echo "$(basename $1 .attn) $2: exit $rc $(grep -iE 'check|error|sched' /tmp/c_$(basename $1 .attn)_$2.txt | tr '\n' ' ' | cut -c1-260)" ) &
  done; wait ) > $OUT/t_check.txt 2>&1 &
( ATTNC_TEST_SMALL=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_recipes > $OUT/t_recipes.txt 2>&1; echo "rc=$?" >> $OUT/t_recipes.txt ) &
( ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_grid_tma > $OUT/t_grid_tma.txt 2>&1; echo "rc=$?" >> $OUT/t_grid_tma.txt ) &
wait
{ cat $OUT/t_check.txt
  for f in recipes grid_tma; do echo "$f: $(grep -cE '^\[PASS\]|^\[       OK' $OUT/t_$f.txt) PASS/OK, $(grep -cE '^\[FAIL|^\[  FAILED|^\[  ERROR' $OUT/t_$f.txt) FAIL, $(tail -1 $OUT/t_$f.txt)"; done
  grep -hE '^\[FAIL|FAILED|CUDA_ERROR|ILLEGAL' $OUT/t_recipes.txt $OUT/t_grid_tma.txt | head -6; } | tee $OUT/tests.txt
el bench
row() { local rc=$1 sh=$2 sc=$3 e=$4; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-14s %-32s %-46s %-18s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "$e" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
HY=batch=1,heads=24,T=30,H=48,W=80
for round in 1 2; do
  row $R/hunyuan_gna.attn $HY "" X=1
  row $R/hunyuan_gna.attn $HY "q=2x8x8 kv=2x8x8 stages=2 warps=8 overlap=1" X=1
  row $R/hunyuan_gna.attn $HY "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8" ATTNC_FULL_RANGE=0
  for e in X=1 ATTNC_FULL_RANGE=0; do
    row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "" $e
    row $R/hunyuan_na.attn $HY "" $e
    row $R/flux_na.attn batch=1,heads=24,H=256,W=256 "" $e
    row $R/na2d_k17.attn batch=1,heads=16,H=128,W=128 "" $e
    row $R/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32 "" $e
  done
done | tee $OUT/grids.txt
for n in 115200 65536; do
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A bench $R/dense_d128.attn --shape batch=1,heads=24,tokens=$n --warmup 2 --iters 10 2>&1)
  echo "dense_d128 heads=24 tokens=$n $(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s' | head -2 | tr '\n' ' ')"
done | tee -a $OUT/grids.txt
el done
