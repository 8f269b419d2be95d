#!/usr/bin/env bash
# Device call 80 (2026-12-06): documents' crossing tiles as bit words (nvptx_fa2_doc_bits.c) and Q in registers
# on documents, both new defaults. Checks: test_gpu_documents (forward and table parts, every id layout: tiles
# across boundaries, recurring ids, i64 ids), test_gpu_varlen, attnc run --check on random unaligned documents
# (i32 and i64 ids), racecheck and memcheck on one; rows: 8 and 64 documents default vs ATTNC_DOC_BITS=0 (the old
# default: element id loads, Q in shared memory), varlen 8x8192, causal B=8 N=8192, sinks + window with the SM
# clock sampled, beside Flex.
#   OUT=dir [TCAP=s] [ROUNDS=n] bash bench/runs/2026-12-06/run80.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-60}; ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS ATTNC_DOC_BITS
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu SAN=/usr/local/cuda/bin/compute-sanitizer
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv | tee $OUT/gpu.txt
# random documents (lengths 1..700, some empty ids skipped): i32 [1, N] and i64 [N]
python3 - <<'PY'
import random, struct
random.seed(80)
def ids(n):
    out, d = [], 0
    while len(out) < n:
        d += random.choice((1, 1, 2)); out += [d] * random.randint(1, 700)
    return out[:n]
open('/tmp/ids_3000.raw', 'wb').write(struct.pack('<3000i', *ids(3000)))
open('/tmp/ids_4097_i64.raw', 'wb').write(struct.pack('<4097q', *ids(4097)))
PY
cat > /tmp/doc_i64.attn <<'AT'
recipe doc_i64
input q, k, v : bf16 [batch, heads, tokens, 128]
param doc : i64 [tokens]
mask causal && document(doc)
AT
el tests
( ATTNC_TEST_DOC=fwd ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_documents > /tmp/t_docfwd.txt 2>&1; echo "rc=$?" >> /tmp/t_docfwd.txt ) &
( ATTNC_TEST_DOC=table ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_documents > /tmp/t_doctab.txt 2>&1; echo "rc=$?" >> /tmp/t_doctab.txt ) &
( ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_varlen > /tmp/t_varlen.txt 2>&1; echo "rc=$?" >> /tmp/t_varlen.txt ) &
runchecks() {
  for spec in "$R/doc_causal.attn batch=1,heads=2,tokens=3000 doc=@/tmp/ids_3000.raw" \
              "recipes/document.attn batch=1,heads=3,tokens=3000 doc=@/tmp/ids_3000.raw" \
              "/tmp/doc_i64.attn batch=2,heads=2,tokens=4097 doc=@/tmp/ids_4097_i64.raw"; do
    set -- $spec
    out=$(timeout 120 $A run $1 --backend cuda --check --shape $2 --param $3 2>&1); rc=$?
    echo "$(basename $1) $2: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | tr '\n' ' ' | cut -c1-160)"
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in docfwd doctab varlen; do
    echo "$t: $(grep -c 'PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
for tool in racecheck memcheck; do
  out=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $SAN --tool $tool $A run $R/doc_causal.attn --backend cuda --check --shape batch=1,heads=2,tokens=3000 --param doc=@/tmp/ids_3000.raw 2>&1); rc=$?
  echo "$tool doc_causal 3000 random docs: rc=$rc $(echo "$out" | grep -E 'SUMMARY|rel L2' | head -2 | tr '\n' ' ')" | tee -a $OUT/tests.txt
done
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-16s %-32s %-18s %-14s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu --format=csv,noheader -lms 200 > $OUT/clocks.csv 2>&1 &
SMI=$!
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_DOC_BITS=0; do
    row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8
    row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 64
  done
  row $R/causal_d128.attn batch=1,heads=16,tokens=65536 X=1 --seqlens 8192x8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
  echo "sinks start $(date +%T.%N | cut -c1-12)"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
done 2>&1 | tee $OUT/rows.txt
kill $SMI
awk -F', ' '{gsub(/ MHz/,"",$2); n++; s+=$2; if(min==""||$2<min)min=$2; if($2>max)max=$2} END{print "SM clock samples " n ": min " min " max " max " mean " s/n " MHz"}' $OUT/clocks.csv | tee -a $OUT/rows.txt
OUT=$OUT timeout 90 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log
el done
