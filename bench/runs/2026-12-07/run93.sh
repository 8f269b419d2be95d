#!/usr/bin/env bash
# Device call 93 (2026-12-07): ATTNC_UNION_UNTESTED=1 (no branch around empty tiles in the union's loop: ptxas then
# keeps the ring slots uniform, 995 -> 785 SASS instructions a tile), ATTNC_O_DEFER=1 now with the narrow first tile
# (no spills: 28 -> 0 bytes), and
# ATTNC_ITEM_PAIRS=1 (persistent blocks' static rounds take a (head, batch) pair's query
# tiles together, heaviest first, instead of every pair's tiles of one rank: the blocks of a round share one pair's
# keys in L2). run92 found NARROW_LAST and O_DEFER level, so the per-item bubbles are not what holds sinks + window;
# its DRAM throughput (33% against causal's 10%, run85) suggests L2 misses. Checks under the switch, then rows (three
# rounds; also the full tiles in a loop without mask code, with the deferred store that cuts its spills), then the
# checks under the switches, then Flex. (Nsight Compute dropped: device starts kept failing, so the call is short.)
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run93.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-2}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_PEEL_ALL ANCHOR_WARMUP_MS ATTNC_NARROW_LAST ATTNC_O_DEFER ATTNC_ITEM_PAIRS ATTNC_UNION_UNTESTED ATTNC_FULL_RANGE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-50s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-10)" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_UNION_UNTESTED=1 ATTNC_UNION_UNTESTED=1,ATTNC_O_DEFER=1 ATTNC_O_DEFER=1 \
           ATTNC_UNION_UNTESTED=1,ATTNC_O_DEFER=1,ATTNC_ITEM_PAIRS=1 ATTNC_FULL_RANGE=1,ATTNC_O_DEFER=1; do
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $e
  done
done 2>&1 | tee $OUT/rows.txt
el tests
( export ATTNC_ITEM_PAIRS=1 ATTNC_O_DEFER=1 ATTNC_UNION_UNTESTED=1 ATTNC_CACHE_DIR=$(mktemp -d)
  timeout 45 $T/test_gpu_test_gpu_persist > /tmp/t_persist.txt 2>&1; echo "rc=$?" >> /tmp/t_persist.txt ) &
( export ATTNC_UNION_UNTESTED=1 ATTNC_O_DEFER=1 ATTNC_CACHE_DIR=$(mktemp -d)
  timeout 45 $T/test_gpu_test_gpu_unions > /tmp/t_unions.txt 2>&1; echo "rc=$?" >> /tmp/t_unions.txt ) &
( export ATTNC_ITEM_PAIRS=1 ATTNC_O_DEFER=1 ATTNC_UNION_UNTESTED=1 ATTNC_CACHE_DIR=$(mktemp -d)
  for spec in "recipes/sinks_window.attn batch=2,heads=3,tokens=4097" "recipes/sinks_window.attn batch=3,heads=5,tokens=1000 --layout bshd" \
              "$R/sinks_swa_w2047.attn batch=1,heads=4,tokens=9000" "$R/sinks_swa_w2047.attn batch=3,heads=2,tokens=2100"; do
    set -- $spec; f=$1 sh=$2; shift 2
    out=$(timeout 40 $A run $f --backend cuda --check --shape $sh "$@" 2>&1); rc=$?
    echo "ITEM_PAIRS=1 O_DEFER=1 UNION_UNTESTED=1 $(basename $f) $sh $*: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | tr '\n' ' ' | cut -c1-160)"
  done > /tmp/t_runcheck.txt 2>&1
  out=$(ATTNC_FULL_RANGE=1 ATTNC_UNION_UNTESTED=0 timeout 40 $A run $R/sinks_swa_w2047.attn --backend cuda --check --shape batch=2,heads=3,tokens=4100 2>&1); rc=$?
  echo "ITEM_PAIRS=1 O_DEFER=1 FULL_RANGE=1 sinks_swa 2x3x4100: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | cut -c1-160)" >> /tmp/t_runcheck.txt ) &
wait
{ for t in persist unions; do
    echo "$t (ITEM_PAIRS / O_DEFER / UNION_UNTESTED): $(grep -c 'PASS\|OK \]' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220; done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 120 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el done
