#!/usr/bin/env bash
# Device call 97 (2026-12-07): three experimental switches, rows first, then their checks, then Flex.
#  - ATTNC_HALF_EDGE=1 (new): after the key loop, each warpgroup computes the edge tiles (the diagonal; the window's
#    first tile, moved last) on the half of their keys its 64 rows keep: each warpgroup 16.5 tiles of 17 products.
#  - ATTNC_ITEM_LIGHT_LAST=1: pair-major persistent items take the light query tiles at the start (sinks || window
#    2047: the first 17) last, by rank, so the snake spreads them (bench/item_order_sim.py light: busiest block
#    1.031 -> 1.003 of the mean at 256 x 16 items).
#  - ATTNC_DOC_DIAG_FIRST=1 (run95's question, never run): a document kernel copies its diagonal key tile with Q
#    before the cut and runs it first.
#   OUT=dir [ROUNDS=n] bash bench/runs/2026-12-07/run97.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
ROUNDS=${ROUNDS:-2}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ANCHOR_WARMUP_MS ATTNC_FULL_RANGE ATTNC_DOC_TABLE ATTNC_DOC_DIAG_FIRST ATTNC_ITEM_LIGHT_LAST ATTNC_ITEM_PAIRS ATTNC_HALF_EDGE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
python3 -c "
import random, struct
random.seed(81); out = []; d = 0
while len(out) < 10000:
    d += 1; out += [d] * random.randint(1, 900)
open('/tmp/ids.raw', 'wb').write(struct.pack('<10000i', *out[:10000]))
w = lambda name, ids: open(name, 'wb').write(struct.pack('<%di' % len(ids), *ids))
w('/tmp/ids3.raw', [0] * 1500 + [1] + [2] * 2596)           # 3 documents, one of one token, 4097 tokens
w('/tmp/ids1.raw', [7, 7])                                  # batch 2, one token each
w('/tmp/ids8.raw', [d for d in range(8) for _ in range(1125)])  # 8 documents of 1125 (not tile multiples)"
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-24s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-10)" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ATTNC_ITEM_LIGHT_LAST=1
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ATTNC_HALF_EDGE=1
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ATTNC_HALF_EDGE=1,ATTNC_ITEM_LIGHT_LAST=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_DOC_DIAG_FIRST=1 --docs 8
  [ $round = 1 ] && row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 64
  [ $round = 1 ] && row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_DOC_DIAG_FIRST=1 --docs 64
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/rows.txt
el checks
( ATTNC_ITEM_LIGHT_LAST=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $T/test_gpu_test_gpu_persist > /tmp/t_persist.txt 2>&1; echo "rc=$?" >> /tmp/t_persist.txt ) &
( ATTNC_HALF_EDGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $T/test_gpu_test_gpu_persist > /tmp/t_persist_he.txt 2>&1; echo "rc=$?" >> /tmp/t_persist_he.txt
  ATTNC_HALF_EDGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $T/test_gpu_test_gpu_unions > /tmp/t_unions_he.txt 2>&1; echo "rc=$?" >> /tmp/t_unions_he.txt ) &
( ATTNC_DOC_DIAG_FIRST=1 ATTNC_TEST_DOC=fwd ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $T/test_gpu_test_gpu_documents > /tmp/t_docs.txt 2>&1; echo "rc=$?" >> /tmp/t_docs.txt ) &
( for spec in "ATTNC_DOC_DIAG_FIRST=1 $R/doc_causal.attn batch=2,heads=2,tokens=5000 --param doc=@/tmp/ids.raw" \
              "ATTNC_DOC_DIAG_FIRST=1 $R/doc_causal.attn batch=1,heads=3,tokens=4097 --param doc=@/tmp/ids3.raw" \
              "ATTNC_DOC_DIAG_FIRST=1 $R/doc_causal.attn batch=2,heads=2,tokens=1 --param doc=@/tmp/ids1.raw" \
              "ATTNC_DOC_DIAG_FIRST=1 $R/doc_causal.attn batch=1,heads=2,tokens=9000 --param doc=@/tmp/ids8.raw --layout bshd" \
              "ATTNC_ITEM_LIGHT_LAST=1 recipes/sinks_window.attn batch=2,heads=3,tokens=4097" \
              "ATTNC_ITEM_LIGHT_LAST=1 recipes/sinks_window.attn batch=3,heads=5,tokens=1000 --layout bshd" \
              "ATTNC_ITEM_LIGHT_LAST=1 $R/sinks_swa_w2047.attn batch=1,heads=4,tokens=9000" \
              "ATTNC_ITEM_LIGHT_LAST=1 $R/sinks_swa_w2047.attn batch=3,heads=2,tokens=2100" \
              "ATTNC_ITEM_LIGHT_LAST=1 $R/sinks_swa_w2047.attn batch=2,heads=3,tokens=1" \
              "ATTNC_HALF_EDGE=1 recipes/sinks_window.attn batch=2,heads=3,tokens=4097" \
              "ATTNC_HALF_EDGE=1 recipes/sinks_window.attn batch=3,heads=5,tokens=1000 --layout bshd" \
              "ATTNC_HALF_EDGE=1 $R/sinks_swa_w2047.attn batch=1,heads=4,tokens=9000" \
              "ATTNC_HALF_EDGE=1 $R/sinks_swa_w2047.attn batch=3,heads=2,tokens=2100" \
              "ATTNC_HALF_EDGE=1 $R/sinks_swa_w2047.attn batch=2,heads=3,tokens=129" \
              "ATTNC_HALF_EDGE=1 $R/sinks_swa_w2047.attn batch=2,heads=3,tokens=1" \
              "ATTNC_HALF_EDGE=1 $R/sinks_swa_w2047.attn batch=1,heads=4,tokens=9000 --schedule q=128,kv=128,stages=2,warps=8,overlap=1" \
              "ATTNC_HALF_EDGE=1 $R/sinks_swa_w2047.attn batch=2,heads=2,tokens=3001 --schedule q=128,kv=128,stages=2,warps=8,overlap=1"; do
    set -- $spec; e=$1 f=$2 sh=$3; shift 3
    out=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A run $f --backend cuda --check --shape $sh "$@" 2>&1); rc=$?
    echo "$e $(basename $f) $sh $*: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | cut -c1-160)"
  done > /tmp/t_runcheck.txt 2>&1
  out=$(ATTNC_DOC_DIAG_FIRST=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 100 $SAN --tool racecheck $A run $R/doc_causal.attn --backend cuda --check --shape batch=1,heads=2,tokens=5000 --param doc=@/tmp/ids.raw 2>&1); rc=$?
  echo "racecheck DOC_DIAG_FIRST=1 doc_causal 1x2x5000 random documents: exit $rc $(echo "$out" | grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|check o' | head -2 | tr '\n' ' ')" >> /tmp/t_runcheck.txt
  out=$(ATTNC_HALF_EDGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 100 $SAN --tool racecheck $A run $R/sinks_swa_w2047.attn --backend cuda --check --shape batch=1,heads=2,tokens=4500 2>&1); rc=$?
  echo "racecheck HALF_EDGE=1 sinks_swa_w2047 1x2x4500: exit $rc $(echo "$out" | grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|check o' | head -2 | tr '\n' ' ')" >> /tmp/t_runcheck.txt ) &
wait
{ echo "persist (ITEM_LIGHT_LAST=1): $(grep -c 'PASS\|OK \]' /tmp/t_persist.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_persist.txt) FAIL-lines, $(tail -1 /tmp/t_persist.txt)"
  grep -m4 'FAIL' /tmp/t_persist.txt | cut -c1-220
  for t in persist_he unions_he; do echo "$t (HALF_EDGE=1): $(grep -c 'OK \]\|PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"; grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220; done
  echo "documents fwd (DOC_DIAG_FIRST=1): $(grep -c 'PASS' /tmp/t_docs.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_docs.txt) FAIL-lines, $(tail -1 /tmp/t_docs.txt)"
  grep -m4 'FAIL' /tmp/t_docs.txt | cut -c1-220; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 120 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq_500.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq_500.log
el done
