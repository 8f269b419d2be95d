#!/usr/bin/env bash
# Device call 89 (2026-12-07): issue 17's two sequence rows on an H200 (needs_h200: run85-88 all got H100s) after
# run86 (staged O in persistent blocks) and run88 (the peel there): sinks + window default against both off
# (ATTNC_O_STAGE=0 ATTNC_PEEL_ALL=0, the kernel before), 8 documents, causal B=8; three rounds; Flex in the same call.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run89.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_PEEL_ALL ANCHOR_WARMUP_MS
R=bench/recipes A=/tmp/pk/bin/attnc
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
out=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A run $R/sinks_swa_w2047.attn --backend cuda --check --shape batch=1,heads=4,tokens=9000 2>&1); echo "check sinks 1x4x9000: exit $? $(echo "$out" | grep -iE 'check o|rel L2' | head -1)"
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-36s %-8s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-8)" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_O_STAGE=0,ATTNC_PEEL_ALL=0; do
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $e
  done
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/rows.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 120 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el done
