#!/usr/bin/env bash
# Device call 1 of the 12:16 session: compute-sanitizer on merged main's new kernels (the
# producer backward, the forward ported to the tile builder), then the 11 old-vs-new cases
# (issue 13) not reached before (old = e0704c5).
# .device-all/{main,old}.tar.xz = scripts/pack-device.sh folders.   OUT=dir bash run11.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for n in main old; do mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
export ATTNC_CACHE_DIR=$(mktemp -d /tmp/cache.XXXX)
B=$ROOT/.device/tests/gpu
SAN=/usr/local/cuda/bin/compute-sanitizer
el "1. compute-sanitizer, filtered so that each program finishes"
san() { # tool program cap env...
  local tool=$1 prog=$2 cap=$3; shift 3
  env "$@" timeout $cap $SAN --tool $tool --error-exitcode 9 --print-limit 10 $B/test_gpu_test_gpu_$prog > /tmp/san.log 2>&1
  echo "$tool $prog [$*] rc=$? pass=$(grep -c '^\[PASS\]\|^\[       OK \]\|: ok' /tmp/san.log) fail=$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/san.log) $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/san.log | tail -1)"
  grep -m5 '========= \(Invalid\|Error\|Race\)' /tmp/san.log
}
P="ATTNC_TEST_SMALL=1 ATTNC_TEST_BWD_MODE=wgmma ATTNC_TEST_BWD_DQ=bulk"
san memcheck backward 70 $P ATTNC_TEST_CASE=causal ATTNC_TEST_RECIPE=none
san racecheck backward 70 $P ATTNC_TEST_CASE=causal ATTNC_TEST_RECIPE=none
san memcheck backward 40 $P ATTNC_TEST_CASE=dense ATTNC_TEST_RECIPE=none
san memcheck recipes 50 ATTNC_TEST_SMALL=1 ATTNC_TEST_RECIPE=causal
san racecheck recipes 50 ATTNC_TEST_SMALL=1 ATTNC_TEST_RECIPE=sinks
el "2. old vs new, the 11 cases not reached before (warmup 3, iters 10)"
grep -v '^\s*#' bench/cases.txt | grep -v '^\s*$' | tail -11 > /tmp/cases11.txt
WARMUP=3 ITERS=10 RUN_TIMEOUT=60 OUT=/tmp/ovn timeout 290 bash bench/old-vs-new.sh /tmp/pk_main /tmp/pk_old /tmp/cases11.txt > /tmp/ovn.log 2>&1
echo "rc=$?"; cat /tmp/ovn/old-vs-new.md; cp /tmp/ovn/old-vs-new.md $OUT/ 2>/dev/null
el done
