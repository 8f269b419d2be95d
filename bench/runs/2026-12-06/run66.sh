#!/usr/bin/env bash
# Device call 66 (2026-12-06, second session): causal documents' diagonal tile first (ATTNC_DOC_DIAG_FIRST, on
# in this package) and the cut table's block count moved to the block's start. GPU tests of the document kernels
# (in parallel, capped), racecheck on one document kernel, `attnc run --check` on document shapes; then 8 documents
# at N=65536 with and without the switch beside causal B=8, 100 iterations, three rounds, FlexAttention in the same
# call; then head dim 256 windows and documents on q=128 kv=64 warps=8 with overlap=1 (checked, then timed).
#   OUT=dir [TCAP=s] bash bench/runs/2026-12-06/run66.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-90}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_DOC_DIAG_FIRST ATTNC_PEEL_FIRST ATTNC_DOC_TABLE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
bg() { local name=$1 tag=$2; shift 2; ( env ATTNC_CACHE_DIR=$(mktemp -d) "$@" timeout $TCAP stdbuf -oL $T/test_gpu_test_gpu_$name > $OUT/t_$tag.txt 2>&1; echo "rc=$?" >> $OUT/t_$tag.txt ) & }
bg documents documents ATTNC_TEST_DOC=fwd
bg overlap overlap_docs ATTNC_TEST_PART=documents
bg varlen varlen X=1
bg documents documents_off ATTNC_TEST_DOC=fwd ATTNC_DOC_DIAG_FIRST=0
mk() { printf 'recipe %s\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\n%s\ntile   auto\n' "$1" "$2" > /tmp/$1.attn; }
mk swa_d256 "mask   causal && sliding_window(300, 0)"
printf 'recipe doc_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\nparam  doc : i32 [batch, tokens]\nmask   causal && document(doc)\ntile   auto\n' > /tmp/doc_d256.attn
W="q=128 kv=64 stages=2 warps=8 overlap=1"
runchecks() { for spec in "$R/doc_causal.attn batch=1,heads=7,tokens=5000" "$R/doc_causal.attn batch=2,heads=3,tokens=1000" \
    "$R/doc_causal.attn batch=1,heads=2,tokens=129" "$R/doc_causal.attn batch=3,heads=2,tokens=4097" "recipes/document.attn batch=2,heads=3,tokens=3000" \
    "/tmp/swa_d256.attn batch=1,heads=3,tokens=2000" "/tmp/doc_d256.attn batch=2,heads=2,tokens=3000"; do
    set -- $spec; local extra=""; case $1 in /tmp/*) extra="--schedule";; esac
    if [ -n "$extra" ]; then out=$(timeout 60 $A run $1 --backend cuda --check --shape $2 --schedule "$W" 2>&1); else out=$(timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); fi; rc=$?
    echo "$1 $2 ${extra:+[$W]}: exit $rc $(echo "$out" | grep -iE 'schedule used|check o|mismatch|error' | tr '\n' ' ' | cut -c1-220)"; done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for t in documents overlap_docs varlen documents_off; do
  echo "$t: $(grep -c '^\[PASS\]\|^\[       OK \]\|PASS' $OUT/t_$t.txt) pass-lines, $(grep -c 'FAIL' $OUT/t_$t.txt) FAIL-lines, $(tail -1 $OUT/t_$t.txt)"
  grep -m4 'FAIL' $OUT/t_$t.txt | cut -c1-250
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
el racecheck
( ATTNC_CACHE_DIR=$(mktemp -d) timeout 100 /usr/local/cuda/bin/compute-sanitizer --tool racecheck $A run $R/doc_causal.attn --backend cuda --check --shape batch=1,heads=2,tokens=1500 > $OUT/racecheck.txt 2>&1; echo "rc=$?" >> $OUT/racecheck.txt )
grep -E "RACECHECK SUMMARY|hazard|exit|rc=" $OUT/racecheck.txt | tail -3 | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-15s %-28s %-22s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-40)" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el rows
for round in 1 2 3; do
  for e in X=1 ATTNC_DOC_DIAG_FIRST=0; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/rows.txt
for e in X=1 ATTNC_DOC_DIAG_FIRST=0; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 64; done 2>&1 | tee -a $OUT/rows.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log | tee $OUT/anchors_seq.txt
el d256
for rc in /tmp/swa_d256.attn /tmp/doc_d256.attn; do
  for s in "" "q=128 kv=64 stages=2 warps=8" "$W"; do
    if [ "$rc" = /tmp/doc_d256.attn ]; then x="--docs 8"; else x=""; fi
    if [ -z "$s" ]; then row $rc batch=1,heads=16,tokens=8192 X=1 $x; else row $rc batch=1,heads=16,tokens=8192 X=1 $x --schedule "$s"; fi
  done; done 2>&1 | tee $OUT/d256.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
