#!/usr/bin/env bash
# Device call 17 of 2026-12-04: issue 13's speed check after causal's regs=even default — every case of
# bench/cases.txt, new build against the old one (e0704c5), two alternating rounds; then the GPU tests
# that run the new causal default (hand, recipes small).
# OUT=dir bash bench/runs/2026-12-04/run17.sh   (.device-all/{main,old}.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main /tmp/pk_old; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; tar -C /tmp/pk_old -xJf .device-all/old.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
el "old vs new"
ROUNDS=2 WARMUP=3 ITERS=10 RUN_TIMEOUT=45 timeout ${OVN_CAP:-450} bash bench/old-vs-new.sh /tmp/pk_main /tmp/pk_old > /tmp/ovn.log 2>&1
el "tests"
G=/tmp/pk_main/tests/gpu
export LD_LIBRARY_PATH=/tmp/pk_main/lib
( ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $G/test_gpu_test_gpu_hand > /tmp/t_hand 2>&1; echo "hand rc=$?" ) &
( ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_TEST_SMALL=1 timeout 90 $G/test_gpu_test_gpu_recipes > /tmp/t_rec 2>&1; echo "recipes rc=$?" ) &
wait
for f in /tmp/t_hand /tmp/t_rec; do echo "$f PASS $(grep -c '^\[PASS\]' $f) FAIL $(grep -c '^\[FAIL\]' $f)"; grep -E '^\[FAIL\]|FAILED|ILLEGAL' $f | head -3; tail -1 $f; done | tee $OUT/tests.txt
el done
