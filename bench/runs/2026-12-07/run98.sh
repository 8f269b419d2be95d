#!/usr/bin/env bash
# Device call 98 (2026-12-07): issue 17's two sequence rows under today's defaults (no switch set), three rounds,
# then FlexAttention in the same call (the anchors' --sparse-seq rows), for the card this call gets.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run98.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ANCHOR_WARMUP_MS ATTNC_FULL_RANGE ATTNC_DOC_TABLE ATTNC_DOC_DIAG_FIRST ATTNC_ITEM_LIGHT_LAST ATTNC_ITEM_PAIRS ATTNC_HALF_EDGE
R=bench/recipes A=/tmp/pk/bin/attnc
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
row() { local rc=$1 sh=$2; shift 2; local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$(echo "$*" | cut -c1-10)" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8
done 2>&1 | tee $OUT/rows.txt
row $R/causal_d128.attn batch=8,heads=16,tokens=8192 | tee -a $OUT/rows.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 150 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el done
