#!/usr/bin/env bash
# Device call 99 (2026-12-07): issue 17's two sequence rows under today's defaults, and 8 causal documents under
# ATTNC_FULL_RANGE=1 (its run of full tiles in a loop without mask code: 469 SASS instructions a tile against the
# general loop's 1,296, which also carries the partial tiles' two mask copies; documents under it never ran on a GPU),
# two rounds (ROUNDS), FlexAttention in the same call; then the switch's checks on documents.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run99.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-2}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
source bench/runs/lib.sh
unpack_device
unset ATTNC_O_STAGE ATTNC_O_TMA ANCHOR_WARMUP_MS ATTNC_FULL_RANGE ATTNC_DOC_TABLE ATTNC_ITEM_PAIRS ATTNC_MASK_INSIDE
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
doc_ids
el rows
for round in $(seq $ROUNDS); do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_FULL_RANGE=1 --docs 8
done 2>&1 | tee $OUT/rows.txt
row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1 | tee -a $OUT/rows.txt
row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 64 | tee -a $OUT/rows.txt
row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_FULL_RANGE=1 --docs 64 | tee -a $OUT/rows.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 150 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el checks
( ATTNC_FULL_RANGE=1 ATTNC_TEST_DOC=fwd ATTNC_CACHE_DIR=$(mktemp -d) timeout 70 $T/test_gpu_test_gpu_documents > /tmp/t_docs.txt 2>&1; echo "rc=$?" >> /tmp/t_docs.txt ) &
( for spec in "$R/doc_causal.attn batch=2,heads=2,tokens=5000 --param doc=@/tmp/ids.raw" \
              "$R/doc_causal.attn batch=1,heads=3,tokens=4097 --param doc=@/tmp/ids3.raw" \
              "$R/doc_causal.attn batch=2,heads=2,tokens=1 --param doc=@/tmp/ids1.raw" \
              "$R/doc_causal.attn batch=1,heads=2,tokens=9000 --param doc=@/tmp/ids8.raw --layout bshd"; do
    set -- $spec; f=$1 sh=$2; shift 2
    out=$(ATTNC_FULL_RANGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A run $f --backend cuda --check --shape $sh "$@" 2>&1); rc=$?
    echo "FULL_RANGE=1 $(basename $f) $sh $*: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | cut -c1-160)"
  done > /tmp/t_runcheck.txt 2>&1
  out=$(ATTNC_FULL_RANGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 80 $SAN --tool racecheck $A run $R/doc_causal.attn --backend cuda --check --shape batch=1,heads=2,tokens=5000 --param doc=@/tmp/ids.raw 2>&1); rc=$?
  echo "racecheck FULL_RANGE=1 doc_causal 1x2x5000 random documents: exit $rc $(echo "$out" | grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|check o' | head -2 | tr '\n' ' ')" >> /tmp/t_runcheck.txt
  echo "$out" | tail -5 >> /tmp/t_runcheck.txt ) &
wait
{ echo "documents fwd (FULL_RANGE=1): $(grep -c 'PASS' /tmp/t_docs.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_docs.txt) FAIL-lines, $(tail -1 /tmp/t_docs.txt)"
  grep -m4 'FAIL' /tmp/t_docs.txt | cut -c1-220; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
el done
