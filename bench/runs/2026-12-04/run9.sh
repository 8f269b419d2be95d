#!/usr/bin/env bash
# Device call 9 of 2026-12-04: the GPU tests on main with the new JIT (ATTNC_JIT unset: ptxas here),
# in parallel with caps, compute-sanitizer memcheck on test_gpu_hand, and the Python GPU tests.
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
G=$ROOT/.device/tests/gpu
summary() { printf '%-22s %-8s PASS %-4s FAIL %s\n' "$1" "$(cat $2.rc 2>/dev/null)" "$(grep -c '^\[PASS\]' $2)" "$(grep -c '^\[FAIL\]' $2)"
  grep -E '^\[FAIL\]|Assertion|Segmentation|internal error|ILLEGAL|CUDA_ERROR|ERROR SUMMARY|FAILED' $2 | head -4 | cut -c1-200; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
C=${CAP:-220}
for t in hand edges unions documents varlen dilation grid_tma radial merge linear linear_backward overlap; do bg $t $C $G/test_gpu_test_gpu_$t; done
bg recipes $C ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_recipes
bg backward $C ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_backward
bg memcheck_hand $C compute-sanitizer --tool memcheck $G/test_gpu_test_gpu_hand
bg python $C bash python/run-gpu.sh
wait
for t in hand edges unions documents varlen dilation grid_tma radial merge linear linear_backward overlap recipes backward memcheck_hand python; do
  summary $t /tmp/t_$t; tail -1 /tmp/t_$t | cut -c1-160; done | tee $OUT/tests.txt
el done
