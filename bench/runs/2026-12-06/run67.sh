#!/usr/bin/env bash
# Device call 67 (2026-12-06, second session): main after the diagonal-first deletion. The cut table's block
# count now taken once the cut is known (the last block in advances the epoch at once): the document tests (forward,
# the table part, overlapped documents, varlen), racecheck and memcheck on a document kernel; the head-dim-256
# defaults for windows and documents (q=128 kv=64 warps=8 overlap=1) checked against fp64 on shapes no tile divides;
# then 8 documents at N=65536 beside causal B=8 (100 iterations, three rounds) and FlexAttention in the same call.
#   OUT=dir [TCAP=s] bash bench/runs/2026-12-06/run67.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-90}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_PEEL_FIRST ATTNC_DOC_TABLE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
bg() { local name=$1 tag=$2; shift 2; ( env ATTNC_CACHE_DIR=$(mktemp -d) "$@" timeout $TCAP stdbuf -oL $T/test_gpu_test_gpu_$name > $OUT/t_$tag.txt 2>&1; echo "rc=$?" >> $OUT/t_$tag.txt ) & }
bg documents documents ATTNC_TEST_DOC=fwd
bg documents documents_table ATTNC_TEST_DOC=table
bg overlap overlap_docs ATTNC_TEST_PART=documents
bg varlen varlen X=1
mk() { printf 'recipe %s\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\n%s\ntile   auto\n' "$1" "$2" > /tmp/$1.attn; }
mk swa_d256 "mask   causal && sliding_window(300, 0)"; mk win_d256 "mask   sliding_window(300, 200)"
printf 'recipe doc_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\nparam  doc : i32 [batch, tokens]\nmask   causal && document(doc)\ntile   auto\n' > /tmp/doc_d256.attn
printf 'recipe gqa_swa_d256\ninput  q : bf16 [batch, heads, tokens, 256]\ninput  k, v : bf16 [batch, kv_heads, tokens, 256]\nmask   causal && sliding_window(500, 0)\ntile   auto\n' > /tmp/gqa_swa_d256.attn
runchecks() { for spec in "/tmp/swa_d256.attn batch=1,heads=3,tokens=2000" "/tmp/swa_d256.attn batch=2,heads=2,tokens=1" \
    "/tmp/win_d256.attn batch=2,heads=2,tokens=1500" "/tmp/doc_d256.attn batch=2,heads=2,tokens=3000" "/tmp/doc_d256.attn batch=1,heads=3,tokens=777" \
    "/tmp/gqa_swa_d256.attn batch=1,heads=4,kv_heads=2,tokens=1333" "$R/doc_causal.attn batch=1,heads=7,tokens=5000" \
    "$R/doc_causal.attn batch=3,heads=2,tokens=4097" "recipes/document.attn batch=2,heads=3,tokens=3000"; do
    set -- $spec; out=$(timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "$(basename $1) $2: exit $rc $(echo "$out" | grep -iE 'schedule used|check o|mismatch|error' | tr '\n' ' ' | cut -c1-200)"; done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for t in documents documents_table overlap_docs varlen; do
  echo "$t: $(grep -c 'PASS' $OUT/t_$t.txt) PASS-lines, $(grep -c 'FAIL' $OUT/t_$t.txt) FAIL-lines, $(tail -1 $OUT/t_$t.txt)"
  grep -m4 'FAIL' $OUT/t_$t.txt | cut -c1-250
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
el sanitizers
for tool in racecheck memcheck; do
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 100 /usr/local/cuda/bin/compute-sanitizer --tool $tool $A run $R/doc_causal.attn --backend cuda --check --shape batch=1,heads=2,tokens=1500 > $OUT/$tool.txt 2>&1; echo "rc=$?" >> $OUT/$tool.txt )
  echo "$tool: $(grep -E 'SUMMARY' $OUT/$tool.txt | tail -1) $(tail -1 $OUT/$tool.txt)" | tee -a $OUT/tests.txt
done
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-15s %-28s %-10s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el rows
for round in 1 2 3; do
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/rows.txt
row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 64 2>&1 | tee -a $OUT/rows.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log | tee $OUT/anchors_seq.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
