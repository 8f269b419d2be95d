#!/usr/bin/env bash
# Device call 90 (2026-12-07): ATTNC_MASK_INSIDE=1 (new, opt-in): on token sequences a partial key tile inside the
# sequence takes a copy of the mask without the per-element key-bound test (run87's source page: sinks + window's two
# partial tiles spend 4.5 SASS an element on window, sink, causal and bound compares). Checks under the switch
# (test_gpu_unions, edges, persist, overlap at a cap; `attnc run --check`), then default vs switch, two rounds.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run90.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-2}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_PEEL_ALL ATTNC_MASK_INSIDE ANCHOR_WARMUP_MS
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
el tests
for t in unions edges persist overlap; do
  ( ATTNC_MASK_INSIDE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
( export ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_MASK_INSIDE=1
  for spec in "recipes/causal.attn batch=2,heads=3,tokens=4097" "recipes/sinks_window.attn batch=2,heads=3,tokens=4097" \
              "recipes/sliding_window.attn batch=1,heads=3,tokens=3000" "recipes/neighborhood1d.attn batch=1,heads=2,tokens=2500" \
              "$R/sinks_swa_w2047.attn batch=1,heads=4,tokens=9000" "recipes/causal.attn batch=3,heads=5,tokens=1000 --layout bshd"; do
    set -- $spec; f=$1 sh=$2; shift 2
    out=$(timeout 120 $A run $f --backend cuda --check --shape $sh "$@" 2>&1); rc=$?
    echo "MASK_INSIDE $(basename $f) $sh $*: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | tr '\n' ' ' | cut -c1-160)"
  done > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in unions edges persist overlap; do
    echo "$t: $(grep -c 'PASS\|OK \]' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-22s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_MASK_INSIDE=1; do
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $e
    row $R/causal_d128.attn batch=8,heads=16,tokens=8192 $e
    row $R/causal_d128.attn batch=1,heads=16,tokens=16384 $e
    row $R/swa_w1024.attn batch=1,heads=16,tokens=16384 $e
    row $R/na1d_k1023.attn batch=1,heads=16,tokens=16384 $e
  done
done 2>&1 | tee $OUT/rows.txt
el done
