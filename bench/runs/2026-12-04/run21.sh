#!/usr/bin/env bash
# Device call 21 of 2026-12-04: 2-D GNA boxes on the overlapped loop without its empty-tile test (the new
# default): the GPU tests that run it (grid_tma with the new GNA/NA overlap cases, overlap, recipes small,
# hand), then FLUX GNA against dense at H=24, three alternating rounds.
# OUT=dir bash bench/runs/2026-12-04/run21.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc
summary() { printf '%-10s %-8s PASS %-4s FAIL %s\n' "$1" "$(cat $2.rc)" "$(grep -c '^\[PASS\]' $2)" "$(grep -c '^\[FAIL\]' $2)"
  grep -E '^\[FAIL\]|FAILED|ILLEGAL|CUDA_ERROR|internal error' $2 | head -4 | cut -c1-220; tail -1 $2 | cut -c1-120; }
bg() { local name=$1; shift; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout ${CAP:-100} env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
bg grid_tma $G/test_gpu_test_gpu_grid_tma
bg overlap $G/test_gpu_test_gpu_overlap
bg recipes ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_recipes
bg hand $G/test_gpu_test_gpu_hand
wait
for t in grid_tma overlap recipes hand; do summary $t /tmp/t_$t; done | tee $OUT/tests.txt
grep -E 'gna2d_boxes|na2d_overlap' /tmp/t_grid_tma | cut -c1-200 | head -8 >> $OUT/tests.txt
el bench
row() { local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $1 --shape $2 --warmup 5 --iters 30 ${3:+--schedule "$3"} 2>&1)
  printf '%-12s %-34s %-40s %s\n' "$(basename $1 .attn)" "$2" "${3:-default}" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s|\[q=[^]]*\]' | tr '\n' ' ')"; }
for round in 1 2 3; do
  row bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
  row bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8"
  row bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536 ""
done | tee $OUT/gna.txt
el done
