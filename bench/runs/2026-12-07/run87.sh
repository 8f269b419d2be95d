#!/usr/bin/env bash
# Device call 87 (2026-12-07): sinks + window after run86 (staged O in persistent blocks, now the default). The
# overlapped loop's first tile peeled in persistent blocks too (ATTNC_PEEL_ALL=1, new: with the loop's empty test;
# without it each item's first loop tile issues a P V of P = 0, a wasted product), checked first (test_gpu_persist,
# unions, `attnc run --check`, racecheck); then timed beside the default, ATTNC_O_TMA=1 and three stages (which leave
# no room for O's own bytes: O goes straight out, as before run86), three rounds, Flex in the same call; the source
# page of the peeled kernel.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run87.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_PEEL_ALL ANCHOR_WARMUP_MS
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
el tests
for e in ATTNC_PEEL_ALL=1 ATTNC_PEEL_ALL=1,ATTNC_O_TMA=1; do
  ( env ${e/,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_persist > /tmp/t_persist_${e//[=,]/_}.txt 2>&1; echo "rc=$?" >> /tmp/t_persist_${e//[=,]/_}.txt ) &
done
( ATTNC_PEEL_ALL=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_unions > /tmp/t_unions.txt 2>&1; echo "rc=$?" >> /tmp/t_unions.txt ) &
( export ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_PEEL_ALL=1
  for spec in "recipes/sinks_window.attn batch=2,heads=3,tokens=4097" "recipes/sinks_window.attn batch=1,heads=2,tokens=1" \
              "recipes/sinks_window.attn batch=3,heads=5,tokens=1000 --layout bshd" "$R/sinks_swa_w2047.attn batch=1,heads=4,tokens=9000" \
              "$R/sinks_swa_w2047.attn batch=2,heads=3,tokens=2100"; do
    set -- $spec; f=$1 sh=$2; shift 2
    out=$(timeout 150 $A run $f --backend cuda --check --shape $sh "$@" 2>&1); rc=$?
    echo "PEEL_ALL $(basename $f) $sh $*: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | tr '\n' ' ' | cut -c1-160)"
  done > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in persist_ATTNC_PEEL_ALL_1 persist_ATTNC_PEEL_ALL_1_ATTNC_O_TMA_1 unions; do
    echo "$t: $(grep -c 'PASS\|OK \]' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
for tool in racecheck memcheck; do
  out=$(ATTNC_PEEL_ALL=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $SAN --tool $tool $A run recipes/sinks_window.attn --backend cuda --check --shape batch=1,heads=2,tokens=2500 2>&1); rc=$?
  echo "$tool PEEL_ALL sinks_window 1x2x2500: exit $rc $(echo "$out" | grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' | head -2 | tr '\n' ' ')" | tee -a $OUT/tests.txt
done
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-32s %-44s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-44)" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
S3="q=128 kv=128 stages=3 warps=8 overlap=1 persist=1"
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_PEEL_ALL=1 ATTNC_PEEL_ALL=1,ATTNC_O_TMA=1; do
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $e
  done
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1 --schedule "$S3"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ATTNC_PEEL_ALL=1 --schedule "$S3"
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
done 2>&1 | tee $OUT/rows.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 120 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el ncu
for e in X=1 ATTNC_PEEL_ALL=1; do
  env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $NCU --clock-control none -k regex:attnc_ --launch-skip 30 --launch-count 1 \
    --section SourceCounters --section WarpStateStats --metrics smsp__cycles_active.avg,sm__cycles_elapsed.max -f -o /tmp/rep \
    $A bench $R/sinks_swa_w2047.attn --shape batch=1,heads=16,tokens=32768 --warmup 20 --iters 20 > /dev/null 2>&1
  timeout 120 $NCU --import /tmp/rep.ncu-rep --page source --csv --print-source sass > $OUT/src_sinks_${e%%=*}.csv 2>&1
  echo "$e: $(timeout 60 $NCU --import /tmp/rep.ncu-rep --page raw --csv --metrics sm__cycles_elapsed.max 2>&1 | tail -1 | cut -c1-200)"
done
el done
