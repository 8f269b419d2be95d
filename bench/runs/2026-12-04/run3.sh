#!/usr/bin/env bash
# Device call 3 of the 2026-12-04 session (main 0d76c15): compute-sanitizer memcheck and racecheck on
# the kernels that the ATTNC_MASK_FRAMES default now builds (radial per key frame), and the
# forward unions and recipes under it.   OUT=dir bash bench/runs/2026-12-04/run3.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; [ -x /tmp/pk_main/bin/attnc ] || tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
export ATTNC_CACHE_DIR=$(mktemp -d /tmp/cache.XXXX)
B=$ROOT/.device/tests/gpu
SAN=/usr/local/cuda/bin/compute-sanitizer
san() { # tool program cap env...
  local tool=$1 prog=$2 cap=$3; shift 3
  env "$@" timeout $cap $SAN --tool $tool --error-exitcode 9 --print-limit 10 $B/test_gpu_test_gpu_$prog > /tmp/san.log 2>&1
  echo "$tool $prog [$*] rc=$? pass=$(grep -c '^\[PASS\]\|^\[       OK \]\|: ok' /tmp/san.log) fail=$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/san.log) $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/san.log | tail -1)"
  grep -m5 '========= \(Invalid\|Error\|Race\)' /tmp/san.log
  cp /tmp/san.log $OUT/san-$tool-$prog.log
}
el "compute-sanitizer"
san memcheck radial 150
san racecheck radial 150
san racecheck recipes 80 ATTNC_TEST_SMALL=1 ATTNC_TEST_RECIPE=radial
el done
