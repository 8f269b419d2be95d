#!/usr/bin/env bash
# Prepared for the next GPU session (not run yet): the forward producer kernel without setmaxnreg
# (ATTNC_WS_MAXNREG=0, experimental since 865f549) against the default, three alternating rounds, and
# the GPU tests under the switch. Under cuLink (which ignored setmaxnreg) causal ran 2.5-5% faster;
# dense spilled (bench/RESULTS.md, 2026-12-04 10:12-10:42, with the list of kernels that spill).
# OUT=dir bash bench/runs/2026-12-04/run16.sh   (.device-all/main.tar.xz = the build under test)
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
G=$ROOT/.device/tests/gpu A=$ROOT/.device/bin/attnc
el "1. bench: default against ATTNC_WS_MAXNREG=0"
row() { # mode recipe shape [args]
  local mode=$1 recipe=$2 shape=$3; shift 3
  local r; r=$(ATTNC_WS_MAXNREG=$mode ATTNC_CACHE_DIR=$(mktemp -d /tmp/b.XXXX) timeout 90 $A bench $recipe --shape $shape --warmup 5 --iters 30 "$@" 2>&1)
  printf '%-18s %-32s %-9s maxnreg=%-6s %s\n' "$(basename $recipe .attn)" "$shape" "$*" "${mode:-unset}" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s' | head -1)"
}
cases() {
  echo "bench/recipes/causal_d64.attn batch=1,heads=32,tokens=16384"
  echo "bench/recipes/causal_d64.attn batch=4,heads=32,tokens=4096"
  echo "bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384"
  echo "bench/recipes/causal_d128.attn batch=4,heads=16,tokens=4096"
  echo "bench/recipes/dense_d64.attn batch=1,heads=32,tokens=16384"
  echo "bench/recipes/dense_d128.attn batch=1,heads=16,tokens=16384"
  echo "bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768"
  echo "bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8"
  echo "bench/recipes/swa_w1024.attn batch=1,heads=16,tokens=16384"
  echo "bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256"
  echo "bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80"
  echo "bench/recipes/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80"
}
for round in 1 2 3; do
  cases | while read -r recipe shape extra; do
    row "" $recipe $shape $extra
    row 0 $recipe $shape $extra
  done
done | tee $OUT/maxnreg.txt
el "2. GPU tests under ATTNC_WS_MAXNREG=0"
summary() { printf '%-16s %-8s PASS %-4s FAIL %s\n' "$1" "$(cat $2.rc 2>/dev/null)" "$(grep -c '^\[PASS\]' $2)" "$(grep -c '^\[FAIL\]' $2)"
  grep -E '^\[FAIL\]|Assertion|Segmentation|internal error|ILLEGAL|CUDA_ERROR|FAILED' $2 | head -4 | cut -c1-200; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_WS_MAXNREG=0 ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
for t in hand overlap unions documents grid_tma; do bg $t ${CAP:-150} $G/test_gpu_test_gpu_$t; done
bg recipes ${CAP:-150} ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_recipes
wait
for t in hand overlap unions documents grid_tma recipes; do summary $t /tmp/t_$t; tail -1 /tmp/t_$t | cut -c1-160; done | tee $OUT/tests.txt
el done
