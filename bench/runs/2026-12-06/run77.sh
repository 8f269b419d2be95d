#!/usr/bin/env bash
# Device call 77 (2026-12-06, third session): two uses of Q in registers that were not open before.
#  1. Documents: the 116 spilled bytes came from the partial tile's two masks (inside the query's document without
#     the id compares, across a boundary with them: mask_split_into). XX_NOSPLIT=1 (experiment switch) keeps one
#     mask: spill-free with ATTNC_Q_REGS=1. Times default / XX_NOSPLIT=1 / both, on 8 and 64 documents.
#  2. Persistent blocks (sinks + window's default): with Q in registers the computing warps free Q's bytes right
#     after loading them, so the producer fetches the next item's Q and first keys under the current item.
#  Checks first (documents, varlen, persist, unions tests; run --check; racecheck), then rows, then Flex.
#   OUT=dir [TCAP=s] [ROUNDS=n] bash bench/runs/2026-12-06/run77.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-60}; ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS ATTNC_BWD_STAT_EARLY XX_NOSPLIT
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu SAN=/usr/local/cuda/bin/compute-sanitizer
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv | tee $OUT/gpu.txt
el tests
DOCENV="ATTNC_Q_REGS=1 XX_NOSPLIT=1"
for t in documents varlen; do
  ( env $DOCENV ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
for t in persist unions; do
  ( ATTNC_Q_REGS=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
runchecks() { for spec in "$R/doc_causal.attn batch=1,heads=7,tokens=5000" "$R/doc_causal.attn batch=2,heads=3,tokens=3000" \
    "$R/sinks_swa_w2047.attn batch=1,heads=2,tokens=3000" "$R/sinks_swa_w2047.attn batch=1,heads=8,tokens=4096" \
    "recipes/sinks_window.attn batch=1,heads=4,tokens=4097"; do
    set -- $spec
    out=$(env $DOCENV timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "$(basename $1) $2 ($DOCENV): exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error' | head -2 | tr '\n' ' ' | cut -c1-160)"
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in documents varlen persist unions; do
    echo "$t: $(grep -c 'PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
el sanitizers
for spec in "racecheck $R/sinks_swa_w2047.attn batch=1,heads=6,tokens=3000" "racecheck $R/doc_causal.attn batch=1,heads=2,tokens=3000" \
            "memcheck $R/sinks_swa_w2047.attn batch=1,heads=6,tokens=3000"; do
  set -- $spec
  out=$(env $DOCENV ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $SAN --tool $1 $A run $2 --backend cuda --check --shape $3 2>&1); rc=$?
  echo "$1 $(basename $2) $3: rc=$rc $(echo "$out" | grep -E 'SUMMARY|hazard|rel L2' | head -3 | tr '\n' ' ')"
done | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-16s %-30s %-28s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 XX_NOSPLIT=1 "$DOCENV"; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$e" --docs 8; done
  for e in X=1 "$DOCENV"; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$e" --docs 64; done
  for e in X=1 ATTNC_Q_REGS=1; do row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "$e"; done
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/rows.txt
for e in X=1 ATTNC_Q_REGS=1; do row recipes/sinks_window.attn batch=1,heads=16,tokens=32768 "$e"; done 2>&1 | tee -a $OUT/rows.txt
el flex; OUT=$OUT timeout 90 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log
el done
