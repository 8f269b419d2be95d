#!/usr/bin/env bash
# Device call 56 (2026-12-06): where do short causal blocks lose? (issue 17's 8 documents run at the speed of
# causal B=8 N=8192, 3-5% short of 1.5x FlexAttention on the H200)
#   1 test_gpu_persist (both item orders, ATTNC_PERSIST_DYNAMIC=1 among them: never run on a GPU before);
#     test_gpu_documents (forward) and test_gpu_overlap, and `attnc run --check` on odd shapes, under ATTNC_PAIR_ORDER=1
#   2 causal B=8 H=16 N=8192 D=128, three rounds, interleaved: the default (overlap=1); persist=1 with dynamic items
#     (a counter hands out pair-major items, heaviest first); ping-pong (overlap=2); ATTNC_UNIFORM_WARP=1; ATTNC_PAIR_ORDER=1 (pairs of (head, batch) interleaved);
#     then once each: 64-row query tiles (two blocks an SM?), 192 rows, three stages
#   3 8 documents of 8192 at N=65536 (default, persist=1 dynamic), then FlexAttention on it (anchors.py --sparse-seq)
#   OUT=dir [LIMIT=s] bash bench/runs/2026-12-06/run56.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
LIMIT=${LIMIT:-400}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }; left() { [ $(( $(date +%s) - t0 )) -lt $1 ]; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP ATTNC_PERSIST_DYNAMIC ATTNC_DOC_TABLE ATTNC_FULL_RANGE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
bg() { local name=$1 cap=$2; shift 2; ( env ATTNC_CACHE_DIR=$(mktemp -d) "$@" timeout $cap stdbuf -oL $T/test_gpu_test_gpu_$name > $OUT/t_$name.txt 2>&1; echo "rc=$?" >> $OUT/t_$name.txt ) & }
bg persist 70 X=1
bg documents 70 ATTNC_PAIR_ORDER=1 ATTNC_TEST_DOC=fwd
bg overlap 70 ATTNC_PAIR_ORDER=1
runchecks() { for spec in "recipes/causal.attn batch=3,heads=5,tokens=1000" "recipes/causal.attn batch=1,heads=1,tokens=100" \
    "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "recipes/document.attn batch=2,heads=3,tokens=3000" \
    "$R/doc_causal.attn batch=1,heads=7,tokens=5000" "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333"; do
    set -- $spec
    out=$(ATTNC_PAIR_ORDER=1 timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "pair order: $1 $2: exit $rc $(echo "$out" | grep -iE 'sched|rel|mismatch' | tr '\n' ' ' | cut -c1-300)"; done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for f in persist documents overlap; do
  echo "$f: $(grep -c '^\[PASS\]\|^\[       OK \]' $OUT/t_$f.txt) pass/ok, $(grep -c 'FAIL' $OUT/t_$f.txt) FAIL-lines, $(tail -1 $OUT/t_$f.txt)"
  grep -m6 'FAIL' $OUT/t_$f.txt | cut -c1-300
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-12s %-28s %-26s %-60s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|visited/kept[^,]*|error.*' | head -6 | tr '\n' ' ')"; }
S="q=128 kv=128 stages=2 warps=8"
el causal
for round in 1 2 3; do
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 ATTNC_PERSIST_DYNAMIC=1 --schedule "$S overlap=1 persist=1"
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1 --schedule "$S overlap=2"
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 ATTNC_UNIFORM_WARP=1
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 ATTNC_PAIR_ORDER=1
done 2>&1 | tee $OUT/causal.txt
for sc in "q=64 kv=64 stages=2 warps=4 overlap=1" "q=64 kv=128 stages=2 warps=4 overlap=1" "q=192 kv=64 stages=2 warps=12 overlap=1" \
          "q=128 kv=128 stages=3 warps=8 overlap=1" "q=128 kv=96 stages=3 warps=8 overlap=1"; do
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1 --schedule "$sc"; done 2>&1 | tee -a $OUT/causal.txt
el docs
for round in 1 2; do
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_PAIR_ORDER=1 --docs 8
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 X=1
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 ATTNC_PAIR_ORDER=1
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 ATTNC_PERSIST_DYNAMIC=1 --schedule "$S overlap=1 persist=1"
done 2>&1 | tee $OUT/docs.txt
left $(( LIMIT - 60 )) && { el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors.log 2>&1; grep -E "doc8|sinks" $OUT/anchors.log | tee $OUT/anchors_table.txt; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
