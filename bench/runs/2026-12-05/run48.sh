#!/usr/bin/env bash
# Device call 48 (2026-12-05): does the persistent loop (persist=1, nvptx_fa2_persist.c) help causal now that causal
# runs the overlapped loop? Short blocks (B=8 N=8192: the same tiles as 8 documents) pay each block's start and end
# once per query tile; persist=1 hides them behind the previous item. Run25 (plain loop) lost 5-7% with it.
# Package: .device-all/main.tar.xz (main 395256a, scripts/pack-device.sh build-dev).  OUT=dir bash run48.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP
R=bench/recipes P="q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"
el tests
ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 /tmp/pk/tests/gpu/test_gpu_test_gpu_persist > $OUT/t_persist.txt 2>&1; echo "rc=$?" >> $OUT/t_persist.txt
echo "persist: $(grep -cE '^\[PASS\]|^\[       OK' $OUT/t_persist.txt) PASS/OK, $(grep -cE '^\[FAIL|^\[  FAILED' $OUT/t_persist.txt) FAIL, $(tail -1 $OUT/t_persist.txt)"
row() { local rc=$1 sh=$2; shift 2; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 /tmp/pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 "$@" 2>&1)
  printf '%-12s %-32s %-8s %s\n' "$(basename $rc .attn)" "$sh" "${1:+persist}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el bench
for round in 1 2 3; do
  for sh in batch=8,heads=16,tokens=8192 batch=2,heads=16,tokens=8192 batch=1,heads=16,tokens=16384 batch=16,heads=16,tokens=4096; do
    row $R/causal_d128.attn $sh
    row $R/causal_d128.attn $sh --schedule "$P"
  done
  row $R/dense_d128.attn batch=2,heads=16,tokens=8192
  row $R/dense_d128.attn batch=2,heads=16,tokens=8192 --schedule "$P"
done | tee $OUT/persist.txt
el done
