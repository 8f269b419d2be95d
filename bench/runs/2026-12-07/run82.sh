#!/usr/bin/env bash
# Device call 82 (2026-12-07): run81 (never run: no device could be started on 2026-12-06 after run80) plus documents
# under ATTNC_DOC_TABLE=2 (every thread reads the table entry, one bar.red.and decides; checked by test_gpu_documents
# under it first, then timed beside the default). run81's description:
# Device call 81 (2026-12-06): issue 17's sequence rows at steady clocks. run80 sampled the SM clock: at the start of
# every bench the H200 ran 1635-1710 MHz for ~0.4 s, then 1980, and a 1 ms kernel's 120 launches sit inside that dip.
# Here attnc bench warms up for 500 ms (--warmup-ms 500) and Flex's do_bench for 500 ms (ANCHOR_WARMUP_MS=500), beside
# Flex at its usual 50 ms. Rows: 8 documents default vs ATTNC_DOC_BITS=0, sinks + window, causal B=8 N=8192, three
# rounds; documents under ATTNC_FULL_RANGE=1 (new for documents: full tiles in their own loop, no mask code; checked
# by test_gpu_documents under it first). Varlen's sequences on side streams
# (runtime/cuda/cuda_fanout.c, new): test_gpu_varlen and `attnc run --check --seqlens`, then 8 x 8192 and 64 x 1024
# default (in turn) vs ATTNC_VARLEN_STREAMS=1 beside the same tiles as a batch.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run82.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS ATTNC_DOC_BITS ANCHOR_WARMUP_MS
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv | tee $OUT/gpu.txt
python3 -c "
import random, struct
random.seed(81); out = []; d = 0
while len(out) < 10000:
    d += 1; out += [d] * random.randint(1, 900)
open('/tmp/ids.raw', 'wb').write(struct.pack('<10000i', *out[:10000]))"
el tests
( ATTNC_VARLEN_STREAMS=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $T/test_gpu_test_gpu_varlen > /tmp/t_varlen.txt 2>&1; echo "rc=$?" >> /tmp/t_varlen.txt ) &
( ATTNC_DOC_TABLE=2 ATTNC_TEST_DOC=fwd ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $T/test_gpu_test_gpu_documents > /tmp/t_doct2.txt 2>&1; echo "rc=$?" >> /tmp/t_doct2.txt
  ATTNC_TEST_DOC=table-direct ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $T/test_gpu_test_gpu_documents >> /tmp/t_doct2.txt 2>&1; echo "rc=$?" >> /tmp/t_doct2.txt ) &
( ATTNC_FULL_RANGE=1 ATTNC_TEST_DOC=fwd ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $T/test_gpu_test_gpu_documents > /tmp/t_docfr.txt 2>&1; echo "rc=$?" >> /tmp/t_docfr.txt ) &
( export ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_VARLEN_STREAMS=1
  for spec in "recipes/causal.attn batch=1,heads=3,tokens=4383 5,300,1,77,4000" \
              "$R/causal_d128.attn batch=1,heads=4,tokens=9000 1000,1000,1000,1000,1000,1000,1000,1000,1000" "recipes/sinks_window.attn batch=1,heads=2,tokens=6001 3000,1,3000"; do
    set -- $spec
    out=$(timeout 120 $A run $1 --backend cuda --check --shape $2 --seqlens $3 2>&1); rc=$?
    echo "$(basename $1) $2 --seqlens $3: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | tr '\n' ' ' | cut -c1-160)"
  done > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in varlen docfr doct2; do
    echo "$t: $(grep -c 'PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
out=$(ATTNC_FULL_RANGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A run $R/doc_causal.attn --backend cuda --check --shape batch=2,heads=2,tokens=5000 --param doc=@/tmp/ids.raw 2>&1); rc=$?
echo "ATTNC_FULL_RANGE=1 doc_causal 2x2x5000 random documents: exit $rc $(echo "$out" | grep -iE 'check o|error' | head -1)" | tee -a $OUT/tests.txt
out=$(ATTNC_DOC_TABLE=2 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A run $R/doc_causal.attn --backend cuda --check --shape batch=2,heads=2,tokens=5000 --param doc=@/tmp/ids.raw 2>&1); rc=$?
echo "ATTNC_DOC_TABLE=2 doc_causal 2x2x5000 random documents: exit $rc $(echo "$out" | grep -iE 'check o|error' | head -1)" | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-16s %-32s %-20s %-30s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu --format=csv,noheader -lms 100 > $OUT/clocks.csv 2>&1 &
SMI=$!
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_DOC_BITS=0 ATTNC_FULL_RANGE=1 ATTNC_DOC_TABLE=2; do
    row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8 --warmup-ms 500
  done
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1 --warmup-ms 500
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1 --warmup-ms 500
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  for e in X=1 ATTNC_VARLEN_STREAMS=1; do
    row $R/causal_d128.attn batch=1,heads=16,tokens=65536 $e --seqlens 8192x8 --warmup-ms 500
    row $R/causal_d128.attn batch=1,heads=16,tokens=65536 $e --seqlens 1024x64 --warmup-ms 500
  done
  row $R/causal_d128.attn batch=64,heads=16,tokens=1024 X=1 --warmup-ms 500
done 2>&1 | tee $OUT/rows.txt
for e in X=1 ATTNC_DOC_BITS=0 ATTNC_FULL_RANGE=1 ATTNC_DOC_TABLE=2; do
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 64 --warmup-ms 500
done 2>&1 | tee -a $OUT/rows.txt
el anchors
for w in 500 50; do
  echo "Flex, do_bench warm-up $w ms:"
  ANCHOR_WARMUP_MS=$w OUT=$OUT timeout 90 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_$w.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_$w.log
done
kill $SMI
awk -F', ' '{gsub(/ MHz/,"",$2); n++; s+=$2; if(min==""||$2<min)min=$2; if($2>max)max=$2} END{print "SM clock samples " n ": min " min " max " max " mean " s/n " MHz"}' $OUT/clocks.csv
el done
