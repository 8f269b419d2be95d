#!/usr/bin/env bash
# Device call 26 of 2026-12-04: GNA query tiles numbered by stride group (schedule qgroup=, now the GNA boxes'
# default: HunyuanVideo 8, FLUX 2): test_gpu_grid_tma (new qgroup cases, short last slabs) and test_gpu_persist's
# GNA cases; then the new default against the old order and dense of the same tokens, two rounds.
# OUT=dir bash bench/runs/2026-12-04/run26.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc
summary() { printf '%-22s %-8s PASS %-4s FAIL %-3s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
bg grid_tma 100 stdbuf -oL $G/test_gpu_test_gpu_grid_tma
bg persist_gna 100 ATTNC_TEST_CASE=gna stdbuf -oL $G/test_gpu_test_gpu_persist
wait
for t in grid_tma persist_gna; do summary $t; done | tee $OUT/tests.txt
grep -E 'qgroup' /tmp/t_grid_tma | cut -c1-150 >> $OUT/tests.txt
el bench
row() { local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $1 --shape $2 --warmup 5 --iters 30 ${3:+--schedule "$3"} 2>&1)
  printf '%-12s %-34s %-48s %s\n' "$(basename $1 .attn)" "$2" "${3:-default}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
R=bench/recipes
for round in 1 2; do
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8"
  row $R/dense_d128.attn batch=1,heads=24,tokens=115200 ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8 overlap=1"
  row $R/dense_d128.attn batch=1,heads=24,tokens=65536 ""
done | tee $OUT/bench.txt
el done
