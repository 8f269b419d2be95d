#!/usr/bin/env bash
# Device call 92 (2026-12-07): ATTNC_NARROW_LAST=1 (the sink tile after the window's tiles, its S issued with the
# last P V) and ATTNC_O_DEFER=1 (each item's staged O stored under the next item's first S). Checks under both
# (test_gpu_persist, unions, edges, `attnc run --check` on sinks + window shapes, with O_TMA too, racecheck /
# memcheck); then sinks + window default / NARROW_LAST / NARROW_LAST+O_DEFER, three rounds, beside 8 documents; Flex.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run92.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_PEEL_ALL ANCHOR_WARMUP_MS ATTNC_NARROW_LAST ATTNC_O_DEFER
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
el tests
export ATTNC_NARROW_LAST=1 ATTNC_O_DEFER=1
for t in persist unions edges; do
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
( export ATTNC_CACHE_DIR=$(mktemp -d)
  for spec in "recipes/sinks_window.attn batch=2,heads=3,tokens=4097" "recipes/sinks_window.attn batch=1,heads=2,tokens=1" \
              "recipes/sinks_window.attn batch=3,heads=5,tokens=1000 --layout bshd" "$R/sinks_swa_w2047.attn batch=1,heads=4,tokens=9000" \
              "$R/sinks_swa_w2047.attn batch=2,heads=3,tokens=2100" "$R/sinks_swa_w2047.attn batch=1,heads=2,tokens=2049" \
              "$R/sinks_swa_w2047.attn batch=1,heads=2,tokens=2200"; do
    set -- $spec; f=$1 sh=$2; shift 2
    out=$(timeout 150 $A run $f --backend cuda --check --shape $sh "$@" 2>&1); rc=$?
    echo "$(basename $f) $sh $*: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | tr '\n' ' ' | cut -c1-160)"
  done > /tmp/t_runcheck.txt 2>&1
  out=$(timeout 150 $A run $R/causal_d128.attn --backend cuda --check --shape batch=2,heads=3,tokens=4097 --schedule "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1" 2>&1); rc=$?
  echo "causal persist 2x3x4097: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | cut -c1-160)" >> /tmp/t_runcheck.txt
  out=$(ATTNC_O_TMA=1 timeout 150 $A run $R/sinks_swa_w2047.attn --backend cuda --check --shape batch=2,heads=3,tokens=4100 2>&1); rc=$?
  echo "O_TMA=1 sinks_swa 2x3x4100: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | cut -c1-160)" >> /tmp/t_runcheck.txt ) &
wait
{ for t in persist unions edges; do
    echo "$t: $(grep -c 'PASS\|OK \]' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
for tool in racecheck memcheck; do
  out=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $SAN --tool $tool $A run recipes/sinks_window.attn --backend cuda --check --shape batch=1,heads=2,tokens=2500 2>&1); rc=$?
  echo "$tool sinks_window 1x2x2500: exit $rc $(echo "$out" | grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard' | head -2 | tr '\n' ' ')" | tee -a $OUT/tests.txt
done
unset ATTNC_NARROW_LAST ATTNC_O_DEFER
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-24s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-10)" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_NARROW_LAST=1 ATTNC_NARROW_LAST=1,ATTNC_O_DEFER=1; do
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $e
  done
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
done 2>&1 | tee $OUT/rows.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 120 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el done
