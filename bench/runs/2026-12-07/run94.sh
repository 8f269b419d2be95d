#!/usr/bin/env bash
# Device call 94 (2026-12-07): the new defaults of 28d1c95 (untested union tiles, the deferred O store, pair-major
# items for sinks || window) under compute-sanitizer on a shape with more items than SMs (the deferred store and the
# pair order only act there: 1x2x9000 = 142 items, 1x4x9000 = 284), `attnc run --check` on three shapes, then rows (sinks + window
# new default vs the three switches off; 8 documents default and FULL_RANGE=1; causal B=8 N=8192) and Flex.
#   OUT=dir [ROUNDS=n] [CHECKS=0] bash bench/runs/2026-12-07/run94.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-2}
CHECKS=${CHECKS:-1}   # CHECKS=0: rows and anchors only
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ANCHOR_WARMUP_MS ATTNC_NARROW_LAST ATTNC_O_DEFER ATTNC_ITEM_PAIRS ATTNC_UNION_UNTESTED ATTNC_FULL_RANGE
R=bench/recipes A=/tmp/pk/bin/attnc
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
el checks
[ "$CHECKS" = 1 ] && for ts in racecheck:2 memcheck:4; do tool=${ts%:*} h=${ts#*:}
  out=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $SAN --tool $tool $A run $R/sinks_swa_w2047.attn --backend cuda --check --shape batch=1,heads=$h,tokens=9000 2>&1); rc=$?
  echo "$tool sinks_swa_w2047 1x${h}x9000: exit $rc $(echo "$out" | grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|hazard|check o' | head -3 | tr '\n' ' ')"
done 2>&1 | tee $OUT/tests.txt
[ "$CHECKS" = 1 ] && for spec in "recipes/sinks_window.attn batch=2,heads=8,tokens=4097" "recipes/sinks_window.attn batch=3,heads=5,tokens=3000 --layout bshd" \
            "$R/sinks_swa_w2047.attn batch=1,heads=3,tokens=1"; do
  set -- $spec; f=$1 sh=$2; shift 2
  out=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 40 $A run $f --backend cuda --check --shape $sh "$@" 2>&1); rc=$?
  echo "default $(basename $f) $sh $*: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | cut -c1-160)"
done 2>&1 | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-66s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-10)" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ATTNC_UNION_UNTESTED=0,ATTNC_O_DEFER=0,ATTNC_ITEM_PAIRS=0
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_FULL_RANGE=1 --docs 8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/rows.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 120 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el done
